// Keeps the engine and the store in agreement, at start, every BERTH_RECONCILE_S, and at once when Docker's
// event stream (filtered to this instance's containers) reports a container dying or being OOM-killed:
// - a run the store calls active but nobody follows is handed to the executor (it re-attaches or, if its
//   container vanished, ends the run `lost` with a reason);
// - a container whose run already ended is removed (berthd stopped between storing `done` and removal);
// - a container unknown to the store and older than BERTH_ORPHAN_GRACE_S is removed, as is a leftover
//   helper container (instructions writer).
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"
#include "server/kube/kube_client.hpp"
#include "server/runs/executor.hpp"
#include "server/runs/run_manager.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

// Whether a cluster worker object (service, secret, Job) labelled with `run` is left over: its run has ended or
// is unknown to the store, and no thread of this process follows it. Unlabelled ones are not berth's to judge.
bool worker_left_over(store::store& db, const executor& exec, const std::string& run);

class reconciler {
 public:
  reconciler(const config& c, docker::docker_client& d, store::store& s, executor& e, run_manager& m, std::string instance);
  ~reconciler();
  // With BERTH_EXECUTOR=kubernetes: Jobs and Secrets are swept through this client instead of containers.
  void set_kube(kube::kube_client* k) { kube_ = k; }
  // One pass; returns the number of containers removed. Blocking.
  int reconcile_once();
  void start();
  void stop();

 private:
  int reconcile_pass();
  void watch_events();
  void periodic();

  const config& cfg_;
  docker::docker_client& docker_;
  store::store& store_;
  executor& exec_;
  run_manager& manager_;
  std::string instance_;
  kube::kube_client* kube_ = nullptr;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool poke_ = false;
  std::atomic<int> events_fd_{-1};
  std::thread periodic_thread_, events_thread_;
};

}  // namespace berth::runs
