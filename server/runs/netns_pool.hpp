// Network namespaces made ahead (BERTH_NETNS_SPARES). A worker on BERTH_WORKER_NETWORK=none has a network
// namespace of its own holding only loopback; dockerd makes it as part of the container's start, and on a
// small host that is half the start (measured here: 0.26 s with --network host, 0.51 s with none — dockerd
// re-executes itself to make each namespace). A *holder* is a tiny hardened container (network none, only
// `sleep`) made before any run asks; one worker joins its namespace (NetworkMode container:<holder>), which
// is then still that worker's alone: made empty, shared with nothing else, used once, removed with the worker.
// Holders are made only while no worker start is in flight in this process, so a burst of runs is not slowed
// by them (it simply uses up the pool and starts the rest the ordinary way).
#pragma once
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

  // A ready holder's id for one worker, or "" (none ready, or disabled). The holder counts as in use until
  // release().
  std::string take();
  // The worker that joined it is gone (or never started): removes the holder.
  void release(const std::string& holder);
  // A holder could not be joined (removed behind berthd's back, or the engine restarted and stopped them
  // all): the idle ones are likely gone too, so they are removed and made again.
  void flush_idle();
  // Idle in the pool or taken and not yet released.
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
  std::vector<std::string> idle_;
  std::set<std::string> taken_;
  int starting_ = 0;
  bool stop_ = false;
  std::thread filler_;
};

}  // namespace berth::runs
