// Reaching berthd's credential gateway from the test, as a worker's relay would: its socket (from berthd's
// log), a run's token (derived like berthd does, from the secret in its store), and one request on it.
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "berthd_process.hpp"

namespace berth::test {

std::string gateway_socket(const berthd_process& d);
std::string gateway_token(const berthd_process& d, const std::string& run);

// A model request as the CLI sends it (streaming, `@@` directives for the fake), with `key` as its API key.
std::string messages_request(const std::string& key, const std::string& text);

// A loopback TCP server that answers every connection with one line and counts the connections it saw.
class probe_server {
 public:
  explicit probe_server(std::string answer);
  ~probe_server();
  probe_server(const probe_server&) = delete;
  probe_server& operator=(const probe_server&) = delete;
  int port() const { return port_; }
  int connections() const;

 private:
  struct impl;
  std::unique_ptr<impl> p_;
  int port_ = 0;
};

}  // namespace berth::test
