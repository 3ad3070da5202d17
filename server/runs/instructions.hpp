// Per-user instructions: kept in BERTH_STORAGE (`instructions/users/<user>.md`, beside the user's skills, so an
// instance that starts with an empty data dir against the same bucket or database has them; a row an older
// berth kept in the database moves there when first read) and written as CLAUDE.md into the user's
// instructions volume, which every worker of that user mounts read-only at /etc/berth/instructions (the worker
// links the workspace's CLAUDE.md to it), so the agent reads them but cannot change them. The volume is
// rewritten whenever the stored text differs from what this process last put there: a new instance, or a
// change made through another instance, is in the next run. Blocking.
#pragma once
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"
#include "server/storage/file_store.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

inline constexpr std::size_t max_instructions_bytes = 64 * 1024;
inline constexpr const char* instructions_mount = "/etc/berth/instructions";

class instructions_service {
 public:
  instructions_service(const config& c, docker::docker_client& d, store::store& s, storage::file_store& files,
                       std::string instance);
  // Stored, then written to the volume; throws storage_error or docker_error (nothing half-done is served:
  // the next run rewrites the volume from the store).
  void put(const std::string& user, const std::string& text);
  std::optional<std::string> get(const std::string& user);
  bool remove(const std::string& user);
  // Whether `user` has instructions; when so, their volume holds the stored text now. Runs and spares ask this
  // before they mount it. Throws storage_error or docker_error.
  bool ready(const std::string& user);

 private:
  void write_volume(const std::string& user, const std::string& text);
  const config& cfg_;
  docker::docker_client& docker_;
  store::store& store_;
  storage::file_store& files_;
  std::string instance_;
  std::mutex m_;
  std::map<std::string, std::string> written_;  // user → hash of the text this process wrote to the volume
};

std::string instructions_key(const std::string& user);

}  // namespace berth::runs
