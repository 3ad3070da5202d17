// Per-user instructions: stored in SQLite and written as CLAUDE.md into the user's instructions volume,
// which every worker of that user mounts read-only at /etc/berth/instructions (the worker links the
// workspace's CLAUDE.md to it), so the agent reads them but cannot change them. Blocking.
#pragma once
#include <optional>
#include <string>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

inline constexpr std::size_t max_instructions_bytes = 64 * 1024;
inline constexpr const char* instructions_mount = "/etc/berth/instructions";

class instructions_service {
 public:
  instructions_service(const config& c, docker::docker_client& d, store::store& s, std::string instance);
  void put(const std::string& user, const std::string& text);  // throws docker_error if the volume cannot be written
  std::optional<std::string> get(const std::string& user) { return store_.instructions(user); }
  bool remove(const std::string& user) { return store_.delete_instructions(user); }

 private:
  const config& cfg_;
  docker::docker_client& docker_;
  store::store& store_;
  std::string instance_;
};

}  // namespace berth::runs
