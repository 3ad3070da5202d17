// berthd's HTTP front: accepts connections and runs one session coroutine per connection on its own strand.
// Stopping closes the acceptor and ends every event stream cleanly.
#pragma once
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "server/http/app.hpp"
#include "server/http/connection_limits.hpp"

namespace berth::http {

class listener {
 public:
  // metrics_only: the BERTH_METRICS_LISTEN listener, which serves /metrics (without a key) and nothing else.
  // `limits` is shared by every listener of the process.
  listener(app& a, boost::asio::io_context& ioc, boost::asio::thread_pool& pool, connection_limits& limits,
           bool metrics_only = false);
  // Binds and listens; returns the bound endpoint (port 0 picks a free one).
  boost::asio::ip::tcp::endpoint bind(const std::string& host, unsigned short port);
  void start();
  void stop();

 private:
  app& app_;
  boost::asio::io_context& ioc_;
  boost::asio::thread_pool& pool_;
  boost::asio::ip::tcp::acceptor acceptor_;
  connection_limits& limits_;
  bool metrics_only_;
};

}  // namespace berth::http
