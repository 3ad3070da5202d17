// A private dockerd for tests that stop and restart the engine: its own socket, data-root, exec-root,
// managed containerd and bridge interface, no iptables, so it never disturbs the shared engine other tests use. The worker image is copied in once (docker save | load, ~5 s).
#pragma once
#include <sys/types.h>

#include <string>

#include "server/docker/docker_client.hpp"

namespace berth::test {

class private_engine {
 public:
  explicit private_engine(const std::string& image = "berth-worker:latest");
  ~private_engine();
  private_engine(const private_engine&) = delete;
  private_engine& operator=(const private_engine&) = delete;

  void start();  // returns once the socket answers /_ping
  void stop();   // SIGTERM, waits for dockerd to exit (its containers stop with it)
  bool running() const { return pid_ > 0; }

  std::string socket_path() const { return dir_ + "/d.sock"; }
  std::string host() const { return "unix://" + socket_path(); }  // for BERTH_DOCKER_HOST
  docker::docker_client& client() { return client_; }

 private:
  std::string dir_;
  std::string bridge_;  // e.g. bpeAb12Cd, created before and deleted after the engine
  pid_t pid_ = -1;
  docker::docker_client client_;
};

}  // namespace berth::test
