#include "server/http/listener.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/http/http_error.hpp"
#include "server/http/session.hpp"

namespace berth::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
constexpr auto accept_backoff = std::chrono::milliseconds(100);
constexpr std::int64_t log_every_ms = 10000;

// Logs the first of a kind at once, then at most one line per interval with how many were not logged.
struct throttled_log {
  std::int64_t last_ms = 0;
  std::uint64_t quiet = 0;
  void warn(std::string_view what, const std::string& detail) {
    auto now = now_ms();
    if (last_ms != 0 && now - last_ms < log_every_ms) {
      ++quiet;
      return;
    }
    log::warn(what, {{"error", detail}, {"since_last_line", std::to_string(quiet)}});
    last_ms = now;
    quiet = 0;
  }
};

template <class Socket>
void refuse(Socket& sock, const std::string& why) {
  std::string body = error_body("too_many_connections", why);
  std::string res = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                    "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  boost::system::error_code ec;
  sock.non_blocking(true, ec);
  net::write(sock, net::buffer(res), ec);  // small enough for the socket buffer; never waits on the client
  sock.close(ec);
}
}  // namespace

listener::listener(app& a, net::io_context& ioc, net::thread_pool& pool, connection_limits& limits, bool metrics_only)
    : app_(a), ioc_(ioc), pool_(pool), acceptor_(ioc), limits_(limits), metrics_only_(metrics_only) {}

tcp::endpoint listener::bind(const std::string& host, unsigned short port) {
  tcp::endpoint ep(net::ip::make_address(host), port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(net::socket_base::max_listen_connections);
  return acceptor_.local_endpoint();
}

void listener::start() {
  net::co_spawn(
      acceptor_.get_executor(),
      [this]() -> net::awaitable<void> {
        throttled_log accept_errors, refusals;
        net::steady_timer backoff(acceptor_.get_executor());
        for (;;) {
          auto [ec, sock] = co_await acceptor_.async_accept(net::make_strand(ioc_), net::as_tuple(net::use_awaitable));
          if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
          if (ec) {
            // Out of descriptors (or another transient failure): the pending connection stays in the backlog, so
            // retrying at once would spin a core and flood the log. Wait, and say so once per interval.
            accept_errors.warn("accept failed; backing off", ec.message());
            backoff.expires_after(accept_backoff);
            co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
            continue;
          }
          boost::system::error_code pec;
          auto peer = sock.remote_endpoint(pec);
          std::string why;
          auto slot = limits_.admit(pec ? std::string() : peer.address().to_string(), why);
          if (!slot) {
            refusals.warn("connection refused", why);
            refuse(sock, why);
            continue;
          }
          sock.set_option(tcp::no_delay(true), pec);
          auto ex = sock.get_executor();
          net::co_spawn(ex, run_session(app_, pool_, std::move(sock), metrics_only_, std::move(slot)), net::detached);
        }
      },
      net::detached);
}

void listener::stop() {
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  app_.bus.wake_all();
}

}  // namespace berth::http
