// Stands in, for the swarm tests, for berthd being on the workers' overlay network: a TCP listener made inside
// another network namespace (a container's, on the overlay, found by its process id) whose connections are
// passed to a unix socket of this machine (berthd's gateway socket). Linux gives each thread its own network
// namespace: the listener's thread enters the container's namespace to make the socket and goes back; the
// socket stays in the namespace it was made in. In production berthd itself runs on the overlay
// (BERTH_GATEWAY_LISTEN); here berthd is a process of the test, in the host's namespace.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::test {

class netns_forwarder {
 public:
  netns_forwarder(pid_t in_namespace_of, std::uint16_t port, std::string unix_path);
  ~netns_forwarder();
  netns_forwarder(const netns_forwarder&) = delete;
  netns_forwarder& operator=(const netns_forwarder&) = delete;
  int connections() const { return connections_.load(); }

 private:
  void accept_loop();

  std::string unix_path_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  std::atomic<int> connections_{0};
  std::mutex m_;
  std::vector<std::jthread> pipes_;  // one per connection, joined at destruction
  std::jthread acceptor_;
};

}  // namespace berth::test
