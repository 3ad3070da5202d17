// A run's skills, subagents and MCP config as a read-only volume mounted at /etc/berth/set: one volume per
// distinct set, named by the set's content hash (`berth-set-<instance>-<hash>`), written once through a
// never-started helper container and shared by every run with that set — so a run whose set was seen before
// costs no storage read beyond the listing and no Docker call. Blocking; storage and Docker failures throw
// (the run fails saying so).
#pragma once
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"
#include "server/storage/user_files.hpp"

namespace berth::runs {

inline constexpr const char* set_mount = "/etc/berth/set";

class skill_sets {
 public:
  skill_sets(const config& c, docker::docker_client& d, storage::user_files& files, std::string instance)
      : cfg_(c), docker_(d), files_(files), instance_(std::move(instance)) {}
  // The volume for `user`'s run with these options (`skills`, `agents`: lists narrowing the set), "" when
  // the set is empty. A name the request lists that no scope has is refused (std::invalid_argument).
  std::string volume_for(const std::string& user, const nlohmann::json& options);

 private:
  const config& cfg_;
  docker::docker_client& docker_;
  storage::user_files& files_;
  std::string instance_;
  std::mutex m_;
  std::set<std::string> written_;  // volumes this process filled
};

// The tar a set volume holds: skills/<name>/…, agents/<name>.md, mcp.json. Pure.
std::string set_archive(const storage::run_set& s);

}  // namespace berth::runs
