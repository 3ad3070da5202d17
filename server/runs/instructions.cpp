#include "server/runs/instructions.hpp"

#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/docker/tar.hpp"
#include "server/runs/task_builder.hpp"
#include "server/storage/bundles.hpp"

namespace berth::runs {

std::string instructions_key(const std::string& user) { return "instructions/users/" + user + ".md"; }

instructions_service::instructions_service(const config& c, docker::docker_client& d, store::store& s, storage::file_store& files,
                                           std::string instance)
    : cfg_(c), docker_(d), store_(s), files_(files), instance_(std::move(instance)) {}

void instructions_service::write_volume(const std::string& user, const std::string& text) {
  // The volume is written through a container that is created, filled with the archive API and removed,
  // never started: nothing runs, and no host path is involved (berthd may itself run in a container).
  const std::string volume = instructions_volume(instance_, user);
  docker_.ensure_volume(volume, {{"berth.instance", instance_}, {"berth.user", user}, {"berth.kind", "instructions"}});
  nlohmann::json body = {
      {"Image", cfg_.worker_image},
      {"Labels", {{"berth.instance", instance_}, {"berth.helper", "instructions"}}},
      {"HostConfig", {{"NetworkMode", "none"},
                      {"Mounts", nlohmann::json::array({{{"Type", "volume"}, {"Source", volume}, {"Target", "/cfg"}}})}}}};
  std::string id = docker_.create_container("berth-cfg-" + user + "-" + new_run_id().substr(18), body);
  try {
    docker_.put_archive(id, "/cfg", docker::tar_single_file("CLAUDE.md", text, 0444));
  } catch (...) {
    docker_.remove(id);
    throw;
  }
  docker_.remove(id);
  std::lock_guard lock(m_);
  written_[user] = storage::sha256_hex(text);
}

void instructions_service::put(const std::string& user, const std::string& text) {
  {
    std::lock_guard lock(m_);
    written_.erase(user);  // whatever happens next, the next run compares against the store again
  }
  files_.put(instructions_key(user), text);
  write_volume(user, text);
  log::info("instructions updated", {{"user", user}, {"bytes", std::to_string(text.size())}});
}

std::optional<std::string> instructions_service::get(const std::string& user) {
  if (auto text = files_.get(instructions_key(user))) return text;
  // Kept in the database by a berth before BERTH_STORAGE held them: moved on first read.
  auto old = store_.instructions(user);
  if (!old) return std::nullopt;
  files_.put(instructions_key(user), *old);
  store_.delete_instructions(user);
  log::info("instructions moved from the database to the file storage", {{"user", user}});
  return old;
}

bool instructions_service::remove(const std::string& user) {
  const bool had_old = store_.delete_instructions(user);
  return files_.remove(instructions_key(user)) || had_old;
}

bool instructions_service::ready(const std::string& user) {
  auto text = get(user);
  if (!text) return false;
  {
    std::lock_guard lock(m_);
    auto it = written_.find(user);
    if (it != written_.end() && it->second == storage::sha256_hex(*text)) return true;
  }
  write_volume(user, *text);
  return true;
}

}  // namespace berth::runs
