// Keeps users' workspaces from filling the host's disk, and expires idle ones. A workspace is a named volume
// (berth-ws-<instance>-<user>) with no size limit of its own (Docker's local driver has none that persists),
// so its size is watched instead: every BERTH_WORKSPACE_CHECK_S the engine reports each volume's size
// (GET /system/df: dockerd measures as root, the agent cannot hide files from it), and a run whose workspace
// is over BERTH_WORKSPACE_MAX_BYTES is stopped and ends `failed` naming the limit. Volumes of users with no
// run for BERTH_WORKSPACE_IDLE_S and no container using them are removed. The decisions are a pure function.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"
#include "server/runs/executor.hpp"
#include "server/runs/skill_sets.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

struct workspace_limits {
  std::int64_t max_bytes = 0;  // 0: no size limit
  std::int64_t idle_ms = 0;    // 0: workspaces never expire
};

struct workspace_actions {
  std::vector<std::pair<std::string, std::int64_t>> stop_runs;  // run id, its workspace's size
  std::vector<std::string> remove_volumes;
};

// `volumes`: this instance's workspace volumes; `active`: user → their active run ids; `last_run_ms`: user → when
// their newest run was created (absent: none stored).
workspace_actions decide_workspaces(const std::vector<docker::volume_usage>& volumes,
                                    const std::map<std::string, std::vector<std::string>>& active,
                                    const std::map<std::string, std::int64_t>& last_run_ms, std::int64_t now_ms,
                                    const workspace_limits& limits);

class workspace_guard {
 public:
  workspace_guard(const config& c, docker::docker_client& d, store::store& s, executor& e, std::string instance);
  ~workspace_guard();
  // Also sweeps the skill set volumes nothing uses any more (skill_sets::sweep), every few minutes.
  void set_skill_sets(skill_sets* s) { sets_ = s; }  // before start()
  void start();
  void stop();
  void check_once();

 private:
  void loop();
  const config& cfg_;
  docker::docker_client& docker_;
  store::store& store_;
  executor& exec_;
  std::string instance_;
  skill_sets* sets_ = nullptr;
  std::int64_t last_sweep_ms_ = 0;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::jthread thread_;
};

}  // namespace berth::runs
