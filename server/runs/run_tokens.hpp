// Per-run gateway tokens. A worker's CLI uses its run's token as its API key; the gateway swaps it for the
// real credential. A token is HMAC-SHA256(gateway secret, run id) in hex: 256 bits nobody can derive without
// the secret (kept in the store, never handed out), and the same after a restart, so a re-attached worker
// keeps working with the token it was given. It is accepted only while its run is open here (starting or
// running, followed by this berthd).
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace berth::runs {

std::string run_token(std::string_view secret, std::string_view run);
std::string new_gateway_secret();  // 32 random bytes, hex

// What an open token lets its worker do: the model API for `run` (of `user`, whose budget it spends), and
// reading `git_repo` ("owner/repo", empty for none) through the gateway.
struct token_grant {
  std::string run;
  std::string user;
  std::string git_repo;
};

// The repository a run may read: "owner/repo" for a run GitHub started (trigger "github:<owner>/<repo>#<n>"),
// empty for any other.
std::string git_repo_of_trigger(std::string_view trigger);

class token_registry {
 public:
  explicit token_registry(std::string secret) : secret_(std::move(secret)) {}
  std::string token_of(std::string_view run) const { return run_token(secret_, run); }
  // Its token is accepted from now on; the returned number names this opening, so a close by a run thread
  // that has been replaced (a run launched again) cannot close its successor's.
  std::uint64_t open(const std::string& run, std::string user = {}, std::string git_repo = {});
  void close(const std::string& run, std::uint64_t opening);
  std::optional<std::string> run_of(std::string_view token) const;
  std::optional<token_grant> grant_of(std::string_view token) const;
  std::size_t open_count() const;

 private:
  std::string secret_;
  mutable std::mutex m_;
  struct entry {
    token_grant grant;
    std::uint64_t opening = 0;
  };
  std::unordered_map<std::string, entry> runs_;  // token → run
  std::uint64_t openings_ = 0;
};

}  // namespace berth::runs
