// Beast lives here and only here. A request is read with a body limit and a deadline, routed, handled
// (blocking handlers on the pool), and answered; an event stream instead keeps the connection: replay from
// the store, then live events from the bus, keepalive comments while idle, end after `done`.
#include "server/http/session.hpp"

#include <array>
#include <chrono>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/http/api_handlers.hpp"
#include "server/http/client_address.hpp"
#include "server/http/dashboard_handlers.hpp"
#include "server/http/offload.hpp"
#include "server/http/routes.hpp"
#include "server/http/sse.hpp"
#include "server/runs/run_request.hpp"

namespace berth::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {
constexpr auto header_timeout = std::chrono::seconds(15);  // a request's headers, or the idle gap before them
constexpr auto body_timeout = std::chrono::seconds(60);
constexpr auto write_timeout = std::chrono::seconds(30);
constexpr auto keepalive_interval = std::chrono::seconds(15);
constexpr auto heartbeat_interval = std::chrono::seconds(5);  // dashboard overview
constexpr auto coalesce_time = std::chrono::milliseconds(150);
constexpr std::uint32_t header_limit = 16 * 1024;
constexpr int replay_batch = 500;
constexpr auto tuple = net::as_tuple(net::use_awaitable);
// After refusing a request whose body is still arriving, keep reading (and discarding) a little so the
// client gets to read the refusal instead of a connection reset.
constexpr auto linger_time = std::chrono::seconds(2);
constexpr std::size_t linger_bytes = 8 << 20;

std::string_view field(const bhttp::request<bhttp::string_body>& req, std::string_view name) {
  auto it = req.find(beast::string_view(name.data(), name.size()));
  if (it == req.end()) return {};
  auto v = it->value();
  return {v.data(), v.size()};
}

net::awaitable<bool> write_reply(beast::tcp_stream& stream, unsigned version, bool keep_alive, const reply& r, bool head) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "berthd");
  res.set(bhttp::field::content_type, r.content_type);
  res.set(bhttp::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  for (const auto& [k, v] : r.headers) res.insert(k, v);
  res.keep_alive(keep_alive);
  res.body() = head ? std::string() : r.body;
  res.prepare_payload();
  if (head) res.content_length(r.body.size());
  stream.expires_after(write_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, res, tuple);
  co_return !ec;
}

// Lets a publisher wake this stream's coroutine: `pending` closes the gap between draining and waiting.
struct waker {
  explicit waker(net::any_io_executor ex) : timer(ex) {}
  net::steady_timer timer;
  std::atomic<bool> pending{false};
};

net::awaitable<bool> send(beast::tcp_stream& stream, const std::string& data) {
  stream.expires_after(write_timeout);
  auto [ec, n] = co_await net::async_write(stream, net::buffer(data), tuple);
  co_return !ec;
}

net::awaitable<bool> send_stream_head(beast::tcp_stream& stream) {
  std::string head =
      "HTTP/1.1 200 OK\r\nServer: berthd\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n";
  head += sse_connected;
  co_return co_await send(stream, head);
}

// A bus subscription that wakes this coroutine, removed when the stream ends.
struct bus_subscription {
  bus_subscription(app& app_, std::string topic_, net::any_io_executor ex)
      : a(app_), topic(std::move(topic_)), w(std::make_shared<waker>(ex)) {
    sub = a.bus.subscribe(topic, [weak = std::weak_ptr<waker>(w)] {
      if (auto s = weak.lock()) {
        s->pending = true;
        net::post(s->timer.get_executor(), [s] { s->timer.cancel(); });
      }
    });
  }
  ~bus_subscription() { a.bus.unsubscribe(topic, sub); }
  bus_subscription(const bus_subscription&) = delete;
  bus_subscription& operator=(const bus_subscription&) = delete;
  app& a;
  std::string topic;
  std::shared_ptr<waker> w;
  std::shared_ptr<runs::subscription> sub;
};

// The dashboard's overview: a full snapshot on connect, again shortly after any run changes status (changes
// arriving together are coalesced), and at least every heartbeat_interval so the page can tell it is live.
// The stream ends with its session (logout, expiry) and on shutdown.
net::awaitable<void> serve_overview(beast::tcp_stream& stream, app& a, net::thread_pool& pool, const sse_plan& plan) {
  if (!co_await send_stream_head(stream)) co_return;
  bus_subscription bs(a, "", co_await net::this_coro::executor);
  auto& w = bs.w;
  std::int64_t fresh_after = 0, id = 0;
  std::vector<runs::event_ptr> changes;
  while (!a.stopping) {
    auto snapshot = co_await offload(pool, [&a, &plan, fresh_after]() -> std::optional<std::string> {
      auto scope = dashboard_session_scope(a, plan.dashboard_session);
      if (!scope) return std::nullopt;
      return dashboard_overview(a, fresh_after, *scope);
    });
    if (!snapshot) {
      co_await send(stream, sse_frame(++id, "logout", "{}"));
      co_return;
    }
    if (!co_await send(stream, sse_frame(++id, "overview", *snapshot))) co_return;
    w->pending = false;
    if (!bs.sub->drain(changes)) co_return;  // fell behind a storm of changes: the page reconnects
    if (changes.empty() && !w->pending) {
      w->timer.expires_after(heartbeat_interval);
      co_await w->timer.async_wait(tuple);
      if (!bs.sub->drain(changes)) co_return;
      if (changes.empty()) continue;  // heartbeat: a fresh-enough snapshot will do
    }
    w->timer.expires_after(coalesce_time);
    co_await w->timer.async_wait(tuple);
    fresh_after = now_ms();
  }
}

net::awaitable<void> serve_events(beast::tcp_stream& stream, app& a, net::thread_pool& pool, const sse_plan& plan) {
  if (plan.run.empty()) {
    co_await serve_overview(stream, a, pool, plan);
    co_return;
  }
  if (!co_await send_stream_head(stream)) co_return;
  bus_subscription bs(a, plan.run, co_await net::this_coro::executor);
  auto& w = bs.w;
  auto& sub = bs.sub;

  std::int64_t last = plan.after;
  bool done = false;
  if (plan.nothing_left) co_return;
  // Replay: everything stored after `last`. Subscribed first, so nothing published meanwhile is missed;
  // live events already replayed are skipped by sequence number below.
  for (;;) {
    auto batch = co_await offload(pool, [&a, &plan, last] { return a.db.events_after(plan.run, last, replay_batch); });
    std::string out;
    for (const auto& e : batch) {
      out += sse_frame(e);
      last = e.seq;
      done = done || e.type == "done";
    }
    if (!out.empty() && !co_await send(stream, out)) co_return;
    if (done || static_cast<int>(batch.size()) < replay_batch) break;
  }
  std::vector<runs::event_ptr> live;
  const bool cookie_stream = !plan.dashboard_session.empty();
  while (!done && !a.stopping) {
    w->pending = false;
    if (cookie_stream && !a.dash.sessions.find_cached(plan.dashboard_session, now_ms())) co_return;  // logged out
    if (!sub->drain(live)) {
      log::info("event stream dropped: subscriber too slow", {{"run", plan.run}});
      co_return;  // the client resumes with Last-Event-ID
    }
    std::string out;
    for (const auto& e : live) {
      if (e->seq <= last) continue;
      last = e->seq;
      done = done || e->type == "done";
      out += sse_frame(*e);
    }
    if (!out.empty()) {
      if (!co_await send(stream, out)) co_return;
      continue;
    }
    if (w->pending) continue;
    w->timer.expires_after(keepalive_interval);
    auto [ec] = co_await w->timer.async_wait(tuple);
    if (!ec && !co_await send(stream, std::string(sse_keepalive))) co_return;
  }
}

}  // namespace

net::awaitable<void> linger_close(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(linger_time);
  std::array<char, 16384> sink;
  for (std::size_t total = 0; total < linger_bytes;) {
    auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), tuple);
    if (rec) break;
    total += n;
  }
}

namespace {
std::string_view peer_address(beast::tcp_stream& stream, std::string& storage) {
  beast::error_code ec;
  auto ep = stream.socket().remote_endpoint(ec);
  storage = ec ? std::string() : ep.address().to_string();
  return storage;
}

request_view view_of(const bhttp::request<bhttp::string_body>& req, std::string_view client) {
  return {
      .method = {req.method_string().data(), req.method_string().size()},
      .target = {req.target().data(), req.target().size()},
      .body = req.body(),
      .content_type = field(req, "Content-Type"),
      .accept = field(req, "Accept"),
      .api_key = field(req, "X-API-Key"),
      .authorization = field(req, "Authorization"),
      .last_event_id = field(req, "Last-Event-ID"),
      .cookie = field(req, "Cookie"),
      .forwarded_proto = field(req, "X-Forwarded-Proto"),
      .origin = field(req, "Origin"),
      .host = field(req, "Host"),
      .sec_fetch_site = field(req, "Sec-Fetch-Site"),
      .csrf_token = field(req, "X-CSRF-Token"),
      .slack_timestamp = field(req, "X-Slack-Request-Timestamp"),
      .slack_signature = field(req, "X-Slack-Signature"),
      .telegram_secret = field(req, "X-Telegram-Bot-Api-Secret-Token"),
      .github_signature = field(req, "X-Hub-Signature-256"),
      .github_event = field(req, "X-GitHub-Event"),
      .github_delivery = field(req, "X-GitHub-Delivery"),
      .client = client,
      .users = nullptr,
  };
}

// Errors of the request's own bytes (as opposed to the connection ending) deserve a 400 before closing.
bool is_malformed(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message && ec != bhttp::error::need_more;
}
}  // namespace

namespace {
// What a failed read deserves before the connection closes: 413 (then drain what is still arriving), 400 for
// malformed bytes, nothing for an ended, reset or timed-out connection.
net::awaitable<void> refuse_read_error(beast::tcp_stream& stream, const beast::error_code& ec) {
  if (ec == bhttp::error::body_limit) {
    co_await write_reply(stream, 11, false, error_reply(413, "body_too_large", "request body exceeds 1 MiB"), false);
    co_await linger_close(stream);
  } else if (is_malformed(ec)) {
    co_await write_reply(stream, 11, false, error_reply(400, "bad_request", "malformed HTTP request: " + ec.message()), false);
  }
}
}  // namespace

net::awaitable<void> run_session(app& a, net::thread_pool& pool, tcp::socket sock, bool metrics_only,
                                 connection_limits::slot slot) {
  [[maybe_unused]] auto held = std::move(slot);
  beast::tcp_stream stream(std::move(sock));
  beast::flat_buffer buffer;
  std::string peer_storage;
  const std::string_view peer = peer_address(stream, peer_storage);
  const unsigned listener = metrics_only ? metrics_listener : main_listener;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(runs::max_body_bytes);
    parser.header_limit(header_limit);
    stream.expires_after(header_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, tuple);
    if (ec == bhttp::error::header_limit) {
      co_await write_reply(stream, 11, false, error_reply(431, "headers_too_large", "request headers exceed 16 KiB"), false);
      break;
    }
    // A Content-Length over the limit is refused from the header.
    if (ec) {
      co_await refuse_read_error(stream, ec);
      co_return;
    }

    // Route and authenticate from the headers alone: a caller without a valid key never gets a body read.
    const std::string client = client_address(peer, field(parser.get(), "X-Forwarded-For"), a.cfg.trusted_proxies);
    request_view headers = view_of(parser.get(), client);
    auto m = match_route(routes(), headers.method, headers.target, listener);
    // A dashboard cookie may have to be looked up in the store (a login made on another instance): off the
    // I/O thread.
    // (No co_await inside a conditional expression: GCC 12 destroys its temporaries too early.)
    std::optional<reply> denied;
    if (m.row && m.row->auth == auth_kind::cookie)
      denied = co_await offload(pool, [&a, &m, &headers] { return authenticate(a, m, headers); });
    else
      denied = authenticate(a, m, headers);
    if (denied) {
      bool body_pending = !parser.is_done();
      co_await write_reply(stream, parser.get().version(), false, *denied, parser.get().method() == bhttp::verb::head);
      if (body_pending) co_await linger_close(stream);
      co_return;
    }
    if (!parser.is_done()) {
      stream.expires_after(body_timeout);
      auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, tuple);
      if (bec) {
        co_await refuse_read_error(stream, bec);
        co_return;
      }
    }

    const auto& req = parser.get();
    request_view v = view_of(req, client);
    v.users = headers.users;
    const bool head = req.method() == bhttp::verb::head;
    reply r;
    if (m.row && m.row->where == run_on::io) r = dispatch(a, m, v);
    else r = co_await offload(pool, [&a, &m, &v] { return dispatch(a, m, v); });

    if (r.sse && head) {  // what the stream would start with, and nothing more
      reply h{200, "text/event-stream", "", {{"X-Accel-Buffering", "no"}}, std::nullopt};
      co_await write_reply(stream, req.version(), false, h, true);
      break;
    }
    if (r.sse) {
      co_await serve_events(stream, a, pool, *r.sse);
      break;
    }
    bool keep = req.keep_alive() && !a.stopping;
    if (!co_await write_reply(stream, req.version(), keep, r, head) || !keep) break;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace berth::http
