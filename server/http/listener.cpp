#include "server/http/listener.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>

#include "common/log.hpp"
#include "server/http/session.hpp"

namespace berth::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

listener::listener(app& a, net::io_context& ioc, net::thread_pool& pool, bool metrics_only)
    : app_(a), ioc_(ioc), pool_(pool), acceptor_(ioc), metrics_only_(metrics_only) {}

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
        for (;;) {
          auto [ec, sock] = co_await acceptor_.async_accept(net::make_strand(ioc_), net::as_tuple(net::use_awaitable));
          if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
          if (ec) {
            log::warn("accept failed", {{"error", ec.message()}});
            continue;
          }
          sock.set_option(tcp::no_delay(true));
          auto ex = sock.get_executor();
          net::co_spawn(ex, run_session(app_, pool_, std::move(sock), metrics_only_), net::detached);
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
