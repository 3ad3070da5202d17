#include "server/runs/instructions.hpp"

#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/docker/tar.hpp"
#include "server/runs/task_builder.hpp"

namespace berth::runs {

instructions_service::instructions_service(const config& c, docker::docker_client& d, store::store& s, std::string instance)
    : cfg_(c), docker_(d), store_(s), instance_(std::move(instance)) {}

void instructions_service::put(const std::string& user, const std::string& text) {
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
  store_.set_instructions(user, text, now_ms());
  log::info("instructions updated", {{"user", user}, {"bytes", std::to_string(text.size())}});
}

}  // namespace berth::runs
