// Repository access for the agent without a token in the worker: a run started from GitHub may read (clone,
// fetch) its own repository through the gateway. In the worker git's `url.<relay>/git/github.com/.insteadOf
// https://github.com/` sends `https://github.com/<owner>/<repo>` to the relay; the gateway forwards git's
// smart-HTTP read requests for that one repository to BERTH_GITHUB_GIT_BASE with BERTH_GITHUB_TOKEN added,
// and refuses everything else. Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace berth::gateway {

inline constexpr std::string_view git_prefix = "/git/github.com/";

struct git_request {
  std::string owner;
  std::string repo;     // without ".git"
  std::string rest;     // what follows <owner>/<repo>[.git], query included: "/info/refs?service=git-upload-pack"
  bool push = false;    // git-receive-pack: refused (runs read, they do not push)
};

// `method` + `target` of a request under git_prefix → the repository and the smart-HTTP step, or nullopt when
// it is not one of git's read steps (GET info/refs?service=git-upload-pack, POST git-upload-pack) or push
// steps, or names something that is not an owner/repo (GitHub's own rules: letters, digits, `-`, `_`, `.`;
// not `.` or `..`).
std::optional<git_request> parse_git_request(std::string_view method, std::string_view target);

// GitHub compares owner and repository names without regard to case.
bool same_repo(std::string_view a, std::string_view b);

// The `Authorization` value GitHub takes for git over HTTPS with an installation or personal token.
std::string git_basic_auth(std::string_view token);

}  // namespace berth::gateway
