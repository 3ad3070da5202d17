// Fires schedules: a thread that wakes at the next firing (at least every second), plans each due schedule
// (firing.hpp) and turns a firing into an ordinary run through the run manager — stored with the schedule's
// step in one transaction, so a firing starts one run across restarts and across instances on one database.
#pragma once
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/config.hpp"
#include "server/runs/run_manager.hpp"
#include "server/store/store.hpp"

namespace berth::schedule {

class scheduler {
 public:
  scheduler(const config& c, store::store& s, runs::run_manager& m);
  ~scheduler();
  void start();
  void stop();
  // One pass over the due schedules; returns how many runs it started. Blocking.
  int fire_due();

 private:
  void loop();
  const config& cfg_;
  store::store& store_;
  runs::run_manager& manager_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The run a schedule's firing starts.
runs::run_request request_for(const store::schedule_record& s, std::int64_t scheduled_for, const std::string& default_engine);

}  // namespace berth::schedule
