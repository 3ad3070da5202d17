// Network namespaces made ahead (BERTH_NETNS_SPARES). A worker on BERTH_WORKER_NETWORK=none has a network
// namespace of its own holding only loopback; dockerd makes it as part of the container's start, and on a
// small host that is half the start (measured here: 0.26 s with --network host, 0.51 s with none — dockerd
// re-executes itself to make each namespace). A *holder* is a tiny hardened container (network none, only
// `sleep`) made before any run asks; a worker joins its namespace (NetworkMode container:<holder>), which
// holds nothing but loopback and is shared with no other worker while it runs.
// After the worker is gone (removed: every process of it dead, so nothing in the namespace listens or holds
// a socket; the worker had no capability to change its interfaces, routes or filters) the holder is parked
// for the *same user's* next run, as their workspace volume is — never another user's. A parked holder goes
// after BERTH_SPARE_IDLE_S, and at most `max_parked` are kept (oldest removed first).
// New holders are made only while no worker start is in flight in this process, so a burst of runs is not
// slowed by them (it uses up the pool and starts the rest the ordinary way).
#pragma once
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"

namespace berth::runs {

// The holder container's create body (pure): labelled berth.netns=holder, hardened like a worker, tiny.
nlohmann::json netns_holder_body(const config& c, const std::string& instance);

class netns_pool {
 public:
  netns_pool(const config& c, docker::docker_client& d, std::string instance);
  ~netns_pool();
  void start();  // the thread that keeps the pool filled (nothing when disabled)
  void stop();   // removes the idle holders; taken ones go with their workers

  static constexpr std::size_t max_parked = 8;

  // A holder for one worker of `user` — the one parked for them, else a new one — or "" (none ready, or
  // disabled). It counts as in use until give_back() or release().
  std::string take(const std::string& user);
  // The worker that joined it has been removed: parks the holder for the user's next run.
  void give_back(const std::string& user, const std::string& holder);
  // The worker that joined it may still exist, or never started: removes the holder.
  void release(const std::string& holder);
  // A holder could not be joined (removed behind berthd's back, or the engine restarted and stopped them
  // all): the idle ones are likely gone too, so they are removed and made again.
  void flush_idle();
  // Idle, parked, or taken and not yet given back.
  bool contains(const std::string& id) const;
  std::size_t idle() const;

  // While one of these lives a worker start is in flight: no holder is made meanwhile.
  class start_in_flight {
   public:
    explicit start_in_flight(netns_pool& p);
    ~start_in_flight();
    start_in_flight(const start_in_flight&) = delete;
    start_in_flight& operator=(const start_in_flight&) = delete;

   private:
    netns_pool& p_;
  };

 private:
  void fill();

  const config& cfg_;
  docker::docker_client& docker_;
  std::string instance_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  struct parked {
    std::string user, id;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<std::string> idle_;   // new, for anyone
  std::vector<parked> parked_;      // each for one user's next run, oldest first
  std::set<std::string> taken_;
  int starting_ = 0;
  bool stop_ = false;
  std::thread filler_;
};

}  // namespace berth::runs
