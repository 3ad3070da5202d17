// The worker's side of the credential gateway: listens on 127.0.0.1:<port> inside the container (which has
// no network of its own) and passes each connection, byte for byte, to berthd's gateway socket in the
// mounted volume, first saying which run it is for (`BERTH <token>\n`). The CLI's ANTHROPIC_BASE_URL and
// HTTP(S)_PROXY point here. Threads are owned: stopping (the destructor) ends every connection and joins.
#pragma once
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/task.hpp"

namespace berth::worker {

class relay {
 public:
  // `held`: a warm spare's relay — connections wait here until claim() (the engine may connect while it starts;
  // nothing reaches the gateway before a run's token is known). Throws std::runtime_error when it cannot listen.
  explicit relay(const task::relay_spec& spec, bool held = false);
  ~relay();
  // A warm spare claimed by a run: connections from now on name the run's token, and the key the engine was
  // started with (the spare's, which the gateway accepts as the API key only beside the run's token).
  void claim(const std::string& run_token, const std::string& engine_key);
  relay(const relay&) = delete;
  relay& operator=(const relay&) = delete;

 private:
  void accept_loop();
  void serve(int client);
  task::relay_spec spec_;
  std::string preamble_;  // "BERTH <token>[ <engine key>]\n", under m_
  bool held_;             // under m_
  bool stopping_ = false;  // under m_
  std::condition_variable cv_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  std::mutex m_;
  std::vector<std::jthread> connections_;
  std::jthread acceptor_;
};

}  // namespace berth::worker
