// Runs each active run on a thread of its own: create the hardened worker, hand over the task, pump output
// into events while enforcing the run and idle timeouts, and finally classify the exit, store `done` and
// remove the worker. After a restart the same pump follows the worker's logs instead, skipping the bytes whose
// events are already stored, so nothing is lost and nothing doubled. The steps are run_steps' (run_steps.hpp):
// a container on this engine by default (run_flow), a Swarm service (swarm_flow) or a Kubernetes Job
// (kube_flow) with BERTH_EXECUTOR. This class owns the threads, cancel/detach, and the local engine's spare
// and network-namespace pools.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"
#include "server/runs/executor.hpp"
#include "server/runs/journal.hpp"
#include "server/runs/netns_pool.hpp"
#include "server/runs/run_tokens.hpp"
#include "server/runs/spare_pool.hpp"
#include "server/runs/volume_registry.hpp"

namespace berth::runs {

class run_steps;

class docker_executor : public executor {
 public:
  docker_executor(const config& c, docker::docker_client& d, journal& j, std::string instance, token_registry& tokens);
  ~docker_executor() override;
  void set_callbacks(executor_callbacks cb) override { cb_ = std::move(cb); }
  // Runs (and spares) mount their user's skills, agents and MCP config from these; before the first launch.
  void set_skill_sets(skill_sets* s) {
    sets_ = s;
    spares_.set_skill_sets(s);
  }
  // … and their instructions volume, brought up to date with BERTH_STORAGE first; before the first launch.
  void set_instructions(instructions_service* i) {
    instructions_ = i;
    spares_.set_instructions(i);
  }
  struct active_run;
  // How a run's worker is run: by default a container on this engine (run_flow); a Swarm service or a
  // Kubernetes Job with BERTH_EXECUTOR (swarm_flow, kube_flow). Set before the first launch.
  using flow_factory = std::function<std::unique_ptr<run_steps>(active_run&, const store::run_record&, std::function<void()> release)>;
  void set_flow_factory(flow_factory f) { make_flow_ = std::move(f); }
  void launch(const store::run_record& rec) override;
  bool stop(const std::string& id, stop_request why) override;
  void detach_all() override;
  std::size_t active_count() const override;
  bool is_active(const std::string& id) const override;
  void note(const std::string& id, run_note n) override;
  std::size_t spare_count() const override { return spares_.size(); }
  bool is_spare(const std::string& container_id) const override { return spares_.contains(container_id); }
  bool holds_netns(const std::string& container_id) const override { return netns_.contains(container_id); }

 private:
  void run_thread(const std::shared_ptr<active_run>& a, store::run_record rec);

  const config& cfg_;
  docker::docker_client& docker_;
  journal& journal_;
  std::string instance_;
  token_registry& tokens_;
  skill_sets* sets_ = nullptr;
  instructions_service* instructions_ = nullptr;
  executor_callbacks cb_;
  flow_factory make_flow_;
  // Every run thread is owned: its handle sits in its active_run while it runs and in finished_ once it
  // has ended (joined at the next launch, or at shutdown). detach_all joins them all, so no thread can touch
  // the executor, the manager's callbacks or the store after the executor is gone.
  mutable std::mutex m_;
  std::map<std::string, std::shared_ptr<active_run>> active_;
  std::vector<std::jthread> finished_;
  // Stops asked of runs whose thread then let go of them (store failure): applied when they are followed again.
  std::map<std::string, stop_request> unfinished_stops_;
  volume_registry volumes_;
  spare_pool spares_;
  netns_pool netns_;
};

std::string container_name(const std::string& run_id);

}  // namespace berth::runs
