// A unix-socket proxy in front of the real engine that refuses chosen calls: every connection carries one
// request (berthd's Docker client opens one per call), so the proxy reads the request head, answers matching
// calls itself with a 500 in Docker's error shape, and forwards everything else byte for byte (attach and
// log streams included). For tests of what berthd does when the engine refuses something it cannot refuse
// on demand (a stop, a kill).
#pragma once
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace berth::test {

class docker_fault_proxy {
 public:
  using rule = std::function<bool(std::string_view method, std::string_view target)>;
  // Listens on `path`; `refuse` picks the calls answered with a 500 instead of being forwarded to `upstream`.
  docker_fault_proxy(std::string path, std::string upstream, rule refuse);
  ~docker_fault_proxy();  // stops accepting, ends every forwarded connection, joins every thread
  docker_fault_proxy(const docker_fault_proxy&) = delete;
  docker_fault_proxy& operator=(const docker_fault_proxy&) = delete;

  std::string host() const { return "unix://" + path_; }  // for BERTH_DOCKER_HOST
  int refused() const { return refused_.load(); }

 private:
  void accept_loop();
  void serve(int client);
  std::string path_;
  std::string upstream_;
  rule refuse_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: readable once the proxy stops
  std::atomic<int> refused_{0};
  std::mutex m_;
  std::vector<std::jthread> connections_;
  std::jthread acceptor_;
};

}  // namespace berth::test
