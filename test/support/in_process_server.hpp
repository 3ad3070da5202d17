// berthd's HTTP front in the test's own process: the real route table, sessions, auth and handlers over a
// real socket on port 0, served by its own thread and stopped in the destructor. The store is in memory and
// the engine socket points nowhere, so it suits everything up to the runs layer (auth, limits, routing,
// malformed input) without a dockerd or log scraping. Runs need the real berthd (berthd_process).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "common/config.hpp"

namespace berth::test {

class in_process_server {
 public:
  // `tune` adjusts the configuration (after a test key and an unreachable engine are set).
  explicit in_process_server(const std::function<void(config&)>& tune = {});
  ~in_process_server();
  in_process_server(const in_process_server&) = delete;
  in_process_server& operator=(const in_process_server&) = delete;
  int port() const;

  struct parts;

 private:
  std::unique_ptr<parts> p_;
};

}  // namespace berth::test
