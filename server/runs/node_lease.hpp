// This process as a node among the instances on one database: it writes its heartbeat every third of
// BERTH_LEASE_S (the first before anything is claimed), and on each beat stops runs whose cancel was asked
// elsewhere, adopts runs whose owner fell silent, and schedules (a slot may have freed on another instance).
// A clean stop removes the node, so others adopt its runs at once instead of after the lease.
#pragma once
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/config.hpp"
#include "server/runs/executor.hpp"
#include "server/runs/run_manager.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

class node_lease {
 public:
  node_lease(const config& c, store::store& s, run_manager& m, executor& e);
  ~node_lease();
  // Writes the first heartbeat (throws when the database does not take it), then beats on its own thread.
  void start();
  void stop();
  // Stops the runs of this node whose cancel was requested; returns how many.
  int serve_cancels();

 private:
  void beat();
  void loop();
  const config& cfg_;
  store::store& store_;
  run_manager& manager_;
  executor& exec_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool warned_ = false;
  std::thread thread_;
};

}  // namespace berth::runs
