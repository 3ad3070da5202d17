#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "server/http/app.hpp"
#include "server/http/connection_limits.hpp"

namespace berth::http {

// One HTTP/1.1 connection: keep-alive requests until the peer closes, or one event stream to its end.
// `slot` is the connection's place under the connection caps, given back when the session ends.
boost::asio::awaitable<void> run_session(app& a, boost::asio::thread_pool& pool, boost::asio::ip::tcp::socket sock,
                                         bool metrics_only, connection_limits::slot slot);

}  // namespace berth::http
