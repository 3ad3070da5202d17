// Watches the engine, the store and the disk every couple of seconds on its own thread, so /health and
// /ready answer from memory. When the engine comes back after an outage, the scheduler is told to retry the
// runs that waited for it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "server/docker/docker_client.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

struct health_state {
  std::atomic<bool> docker_ok{false};
  std::atomic<bool> store_ok{false};
  std::atomic<std::int64_t> disk_free_bytes{-1};
  mutable std::mutex m;
  std::string docker_version;  // guarded by m
  std::string docker_error;    // guarded by m
};

class health_monitor {
 public:
  health_monitor(docker::docker_client& d, store::store& s, std::string data_dir, std::function<void()> on_engine_back);
  ~health_monitor();
  // Where workers run is not this Docker engine (BERTH_EXECUTOR=kubernetes): `probe` answers for it instead —
  // its version, or throws. Before start().
  void set_engine_probe(std::function<std::string()> probe) { probe_ = std::move(probe); }
  void check_now();  // one round, on the calling thread
  void start();
  void stop();
  health_state& state() { return state_; }

 private:
  docker::docker_client& docker_;
  store::store& store_;
  std::string data_dir_;
  std::function<void()> on_engine_back_;
  std::function<std::string()> probe_;
  health_state state_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace berth::runs
