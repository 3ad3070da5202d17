// A run's skills, subagents and MCP config as a read-only volume mounted at /etc/berth/set: one volume per
// distinct set, named by the set's content hash (`berth-set-<instance>-<hash>`), written once through a
// never-started helper container and shared by every run with that set — so a run whose set was seen before
// costs no storage read beyond the listing and no Docker call. Blocking; storage and Docker failures throw
// (the run fails saying so). Each distinct set made a volume: sweep() removes those no container uses and no run
// of this process asked for in BERTH_SKILL_SET_KEEP_S (a volume this process never used counts from its start),
// and a volume this process has not used for half that time is written again before it is handed out — another
// instance on the same engine may have swept it.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "common/strings.hpp"
#include "server/docker/docker_client.hpp"
#include "server/storage/user_files.hpp"

namespace berth::runs {

inline constexpr const char* set_mount = "/etc/berth/set";

class skill_sets {
 public:
  skill_sets(const config& c, docker::docker_client& d, storage::user_files& files, std::string instance)
      : cfg_(c), docker_(d), files_(files), instance_(std::move(instance)), keep_ms_(std::int64_t{c.skill_set_keep_s} * 1000),
        started_ms_(now_ms()) {}
  // The volume for `user`'s run with these options (`skills`, `agents`: lists narrowing the set), "" when
  // the set is empty. A name the request lists that no scope has is refused (std::invalid_argument).
  std::string volume_for(const std::string& user, const nlohmann::json& options);
  // `volumes`: the engine's (GET /system/df). Returns the names removed.
  std::vector<std::string> sweep(const std::vector<docker::volume_usage>& volumes, std::int64_t now_ms);

 private:
  const config& cfg_;
  docker::docker_client& docker_;
  storage::user_files& files_;
  std::string instance_;
  std::int64_t keep_ms_;
  std::int64_t started_ms_;
  std::mutex m_;
  std::set<std::string> written_;                 // volumes this process filled
  std::map<std::string, std::int64_t> last_used_;  // volume → when a run of this process last asked for it
};

// This instance's set volumes that no container uses and nobody asked for in `keep_ms` (`unknown_since_ms`: when
// a volume absent from `last_used_ms` counts as last used). Pure.
std::vector<std::string> idle_set_volumes(const std::vector<docker::volume_usage>& volumes, const std::string& instance,
                                          const std::map<std::string, std::int64_t>& last_used_ms, std::int64_t unknown_since_ms,
                                          std::int64_t now_ms, std::int64_t keep_ms);

// The tar a set volume holds: skills/<name>/…, agents/<name>.md, mcp.json. Pure.
std::string set_archive(const storage::run_set& s);

}  // namespace berth::runs
