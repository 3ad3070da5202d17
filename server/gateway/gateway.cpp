#include "server/gateway/gateway.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <optional>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/gateway/egress_policy.hpp"
#include "server/gateway/git_route.hpp"
#include "server/runs/metrics.hpp"

namespace berth::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;
// Worker connections come over the unix socket (workers on this engine) or TCP (BERTH_GATEWAY_LISTEN: workers
// on other nodes); a session holds either as a generic stream socket.
using generic = net::generic::stream_protocol;
using namespace std::chrono_literals;
using net::experimental::awaitable_operators::operator&&;

namespace {
constexpr auto preamble_timeout = 15s;
constexpr auto idle_timeout = 10min;          // between a CLI's requests: a tool may run that long
constexpr auto body_timeout = 60s;            // a request body, once its header arrived
constexpr auto connect_timeout = 30s;         // to the upstream or a CONNECT target
constexpr auto answer_timeout = 10min;        // for each piece of an answer (a long think is silent)
constexpr std::size_t preamble_max = 256;
constexpr std::size_t header_limit = 64 * 1024;
constexpr std::size_t max_connections = 2048;  // open worker connections, all runs together
constexpr auto tuple = net::as_tuple(net::use_awaitable);

using client_stream = beast::basic_stream<generic, net::any_io_executor>;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// Anthropic's error shape, so the CLI shows the gateway's reason as it would the API's.
std::string error_json(std::string_view type, std::string_view message) {
  return nlohmann::json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}.dump();
}

std::string_view error_type(unsigned status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 413: return "request_too_large";
    case 431: return "invalid_request_error";
    case 503: return "overloaded_error";
    default: return "api_error";
  }
}

// At most one log line per second for refusals a misbehaving worker can repeat at will.
struct throttled {
  std::atomic<std::int64_t> last_ms{0};
  std::atomic<std::uint64_t> quiet{0};
  void warn(std::string_view what, const std::string& run = {}, const std::string& detail = {}) {
    auto now = now_ms();
    auto prev = last_ms.load();
    if (now - prev < 1000 || !last_ms.compare_exchange_strong(prev, now)) {
      ++quiet;
      return;
    }
    log::warn(what, {{"run", run.empty() ? "-" : run}, {"detail", detail}, {"not_logged_before", std::to_string(quiet.exchange(0))}});
  }
};
throttled refusal_log;

// Every refusal: the caller gets the reason in Anthropic's error shape, the operator a (throttled) log line.
net::awaitable<void> refuse(client_stream& c, unsigned status, std::string_view message, const std::string& run = {}) {
  runs::global_metrics().gateway_refused.fetch_add(1, std::memory_order_relaxed);
  refusal_log.warn("gateway: request refused", run, std::to_string(status) + " " + std::string(message));
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = error_json(error_type(status), message);
  res.keep_alive(false);
  res.prepare_payload();
  c.expires_after(5s);
  co_await http::async_write(c, res, tuple);
  beast::error_code ec;
  c.socket().shutdown(generic::socket::shutdown_send, ec);
}


struct upstream_conn {
  std::optional<beast::tcp_stream> plain;
  std::optional<tls_stream> tls;
  beast::flat_buffer buf;
  bool open() const { return plain || tls; }
  void reset() {
    plain.reset();
    tls.reset();
    buf.clear();
  }
};

// One worker connection: its run, and the upstream connection it reuses between requests.
class session : public std::enable_shared_from_this<session> {
 public:
  session(generic::socket s, const config& c, runs::token_registry& t, const note_sink& n, const budget_check& b,
          const upstream& u, const upstream& git, net::ssl::context& tls, std::shared_ptr<std::atomic<std::size_t>> open)
      : c_(std::move(s)), cfg_(c), tokens_(t), notes_(n), budget_(b), up_(u), git_up_(git), tls_ctx_(tls), open_(std::move(open)) {}
  ~session() { open_->fetch_sub(1); }
  net::awaitable<void> run();
  net::any_io_executor executor() { return c_.get_executor(); }

 private:
  net::awaitable<bool> read_preamble();
  net::awaitable<bool> read_body(http::request_parser<http::string_body>& p);
  net::awaitable<bool> forward(http::request_parser<http::string_body>& p);
  net::awaitable<bool> git(http::request_parser<http::string_body>& p);
  net::awaitable<bool> send(http::request<http::string_body>& req, bool client_keeps, upstream_conn& conn,
                            const upstream& up, bool meter, std::string_view name);
  net::awaitable<void> tunnel(const http::request<http::string_body>& req);
  void record_egress(const std::string& target, bool allowed, const std::string& reason, const std::string& repo = {});
  net::awaitable<void> connect_upstream(upstream_conn& conn, const upstream& up);
  template <class Up>
  net::awaitable<int> exchange(Up& up, upstream_conn& conn, http::request<http::string_body>& req, bool meter);

  client_stream c_;
  const config& cfg_;
  runs::token_registry& tokens_;
  const note_sink& notes_;
  const budget_check& budget_;
  const upstream& up_;
  const upstream& git_up_;
  net::ssl::context& tls_ctx_;
  std::shared_ptr<std::atomic<std::size_t>> open_;
  beast::flat_buffer buf_;
  std::string token_;
  std::string engine_key_;  // a warm spare's engine presents this key instead of the token (the relay names both)
  std::string run_;
  std::string user_;
  upstream_conn upc_;  // to the model API
  upstream_conn gitc_;  // to GitHub's git host
};

net::awaitable<bool> session::read_preamble() {
  c_.expires_after(preamble_timeout);
  for (;;) {
    auto data = buf_.data();
    std::string_view seen(static_cast<const char*>(data.data()), data.size());
    if (auto nl = seen.find('\n'); nl != std::string_view::npos) {
      std::string_view line = seen.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.starts_with("BERTH ")) {  // "BERTH <run token>[ <engine key>]"
        auto rest = line.substr(6);
        const auto space = rest.find(' ');
        token_ = std::string(rest.substr(0, space));
        if (space != std::string_view::npos) engine_key_ = std::string(rest.substr(space + 1));
      }
      buf_.consume(nl + 1);
      break;
    }
    if (seen.size() > preamble_max) break;
    auto [ec, n] = co_await c_.async_read_some(buf_.prepare(preamble_max), tuple);
    if (ec) co_return false;
    buf_.commit(n);
  }
  if (auto g = tokens_.grant_of(token_)) {
    run_ = g->run;
    user_ = g->user;
    co_return true;
  }
  co_await refuse(c_, 401, "berth gateway: this connection's run token is unknown or its run has ended");
  co_return false;
}

net::awaitable<void> session::run() {
  if (!co_await read_preamble()) co_return;
  for (;;) {
    http::request_parser<http::string_body> p;
    p.header_limit(header_limit);
    p.body_limit(static_cast<std::uint64_t>(cfg_.gateway_max_body_bytes));
    c_.expires_after(idle_timeout);
    auto [ec, n] = co_await http::async_read_header(c_, buf_, p, tuple);
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset)
      co_return;
    if (ec == http::error::header_limit) co_return co_await refuse(c_, 431, "berth gateway: request headers over 64 KiB", run_);
    if (ec == http::error::body_limit)  // announced by Content-Length: refused before any body is read
      co_return co_await refuse(c_, 413, "berth gateway: request body over BERTH_GATEWAY_MAX_BODY_BYTES (" +
                                             std::to_string(cfg_.gateway_max_body_bytes) + ")", run_);
    if (ec) co_return co_await refuse(c_, 400, "berth gateway: malformed HTTP request (" + ec.message() + ")", run_);
    const auto& req = p.get();
    if (!tokens_.run_of(token_)) {
      co_return co_await refuse(c_, 401, "berth gateway: the run this token belongs to has ended", run_);
    }
    if (req.method() == http::verb::connect) co_return co_await tunnel(req);
    if (req.target().starts_with(git_prefix)) {  // the run's repository (the relay's preamble named the run)
      if (!co_await git(p)) co_return;
      continue;
    }
    if ((req.method() == http::verb::head || req.method() == http::verb::get) && req.target() == "/" &&
        !req.has_content_length() && !req.chunked()) {
      // The CLI's reachability check: answered here, never sent upstream.
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      if (req.method() == http::verb::get) res.body() = "{}";  // HEAD: headers only, or the next answer misparses
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(c_, res, tuple);
      if (wec || !req.keep_alive()) co_return;
      continue;
    }
    // The key the engine presents: the run's token, or the key a warm spare's engine was started with before
    // any run claimed it — accepted only on a connection whose preamble names the open run's token as well.
    if (const auto presented = presented_token(req); presented != token_ && (engine_key_.empty() || presented != engine_key_)) {
      co_return co_await refuse(c_, 401, "berth gateway: the API key is not this run's token", run_);
    }
    if (!is_model_api(req.method_string(), req.target())) {
      co_return co_await refuse(c_, 403, "berth gateway: " + std::string(req.method_string()) + " " +
                                             std::string(req.target().substr(0, 200)) +
                                             " refused: only POST /v1/messages and /v1/messages/count_tokens are served", run_);
    }
    if (!co_await read_body(p)) co_return;
    if (budget_) {
      if (auto why = budget_(user_)) {  // read whole, so the refusal is the answer the CLI sees; nothing forwarded
        notes_(run_, note{.user = user_, .refused = *why});
        co_return co_await refuse(c_, 403, "berth gateway: budget exceeded: " + *why, run_);
      }
    }
    if (!co_await forward(p)) co_return;
  }
}

// The rest of a request whose header was accepted; false (after refusing, where there is someone to tell)
// when it is over the limit or the worker went away or stalled mid-body: nothing is forwarded then.
net::awaitable<bool> session::read_body(http::request_parser<http::string_body>& p) {
  const auto over = "berth gateway: request body over BERTH_GATEWAY_MAX_BODY_BYTES (" + std::to_string(cfg_.gateway_max_body_bytes) + ")";
  if (auto cl = p.content_length(); cl && *cl > static_cast<std::uint64_t>(cfg_.gateway_max_body_bytes)) {
    co_await refuse(c_, 413, over, run_);
    co_return false;
  }
  c_.expires_after(body_timeout);
  auto [bec, bn] = co_await http::async_read(c_, buf_, p, tuple);
  if (bec == http::error::body_limit) co_await refuse(c_, 413, over, run_);
  co_return !bec;
}

net::awaitable<void> session::connect_upstream(upstream_conn& conn, const upstream& up) {
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  auto results = co_await resolver.async_resolve(up.host, up.port, net::use_awaitable);
  if (up.tls) {
    conn.tls.emplace(ex, tls_ctx_);
    if (SSL_ctrl(conn.tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(up.host.c_str())) != 1)  // SSL_set_tlsext_host_name, without its C cast
      throw std::runtime_error("cannot set TLS server name");
    conn.tls->set_verify_callback(net::ssl::host_name_verification(up.host));
    beast::get_lowest_layer(*conn.tls).expires_after(connect_timeout);
    co_await beast::get_lowest_layer(*conn.tls).async_connect(results, net::use_awaitable);
    beast::get_lowest_layer(*conn.tls).socket().set_option(tcp::no_delay(true));
    co_await conn.tls->async_handshake(net::ssl::stream_base::client, net::use_awaitable);
  } else {
    conn.plain.emplace(ex);
    conn.plain->expires_after(connect_timeout);
    co_await conn.plain->async_connect(results, net::use_awaitable);
    conn.plain->socket().set_option(tcp::no_delay(true));  // a request is header + body: no Nagle wait between
  }
}

// Sends `req` and streams the answer back, metering its usage if `meter`. Returns 0 when the answer was
// relayed, 1 when nothing came back on a reused connection (safe to retry on a fresh one), 2 when the
// upstream failed.
template <class Up>
net::awaitable<int> session::exchange(Up& up, upstream_conn& conn, http::request<http::string_body>& req, bool meter) {
  auto& lowest = beast::get_lowest_layer(up);
  lowest.expires_after(answer_timeout);
  auto [wec, wn] = co_await http::async_write(up, req, tuple);
  if (wec) co_return 1;
  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  auto [hec, hn] = co_await http::async_read_header(up, conn.buf, p, tuple);
  if (hec) co_return hn == 0 && conn.buf.size() == 0 ? 1 : 2;
  auto& res = p.get();
  const bool sse = beast::iequals(res[http::field::content_type].substr(0, 17), "text/event-stream");
  usage_meter meter_(sse, &cfg_.prices);
  auto report = [&](usage u) {
    if (!meter || u.empty()) return;
    auto& m = runs::global_metrics();
    m.tokens_input.fetch_add(static_cast<std::uint64_t>(u.input_tokens), std::memory_order_relaxed);
    m.tokens_output.fetch_add(static_cast<std::uint64_t>(u.output_tokens), std::memory_order_relaxed);
    m.tokens_cache_read.fetch_add(static_cast<std::uint64_t>(u.cache_read_input_tokens), std::memory_order_relaxed);
    m.tokens_cache_creation.fetch_add(static_cast<std::uint64_t>(u.cache_creation_input_tokens), std::memory_order_relaxed);
    notes_(run_, note{.user = user_, .used = u});
  };
  http::serializer<false, http::buffer_body> sr{res};
  c_.expires_after(answer_timeout);
  auto [shec, shn] = co_await http::async_write_header(c_, sr, tuple);
  if (shec) co_return 2;
  std::array<char, 16384> chunk;
  for (;;) {
    std::size_t got = 0;
    if (!p.is_done()) {
      res.body().data = chunk.data();
      res.body().size = chunk.size();
      lowest.expires_after(answer_timeout);
      auto [rec, rn] = co_await http::async_read_some(up, conn.buf, p, tuple);
      if (rec == http::error::need_buffer) rec = {};
      if (rec) co_return 2;
      got = chunk.size() - res.body().size;
      // Metered before the client sees it: the run's count is stored before its worker can act on the answer.
      if (meter) report(meter_.feed(std::string_view(chunk.data(), got)));
      if (meter && p.is_done()) report(meter_.finish());
      // Nothing to pass on yet (a chunk header was parsed): an empty piece here would read as the last chunk.
      if (got == 0 && !p.is_done()) continue;
    }
    res.body().data = got ? chunk.data() : nullptr;
    res.body().size = got;
    res.body().more = !p.is_done();
    c_.expires_after(answer_timeout);
    auto [cec, cn] = co_await http::async_write(c_, sr, tuple);
    if (cec == http::error::need_buffer) cec = {};
    if (cec) co_return 2;
    if (p.is_done() && sr.is_done()) break;
  }
  if (!res.keep_alive()) conn.reset();
  co_return 0;
}

net::awaitable<bool> session::forward(http::request_parser<http::string_body>& p) {
  auto req = p.release();
  const bool client_keeps = req.keep_alive();
  rewrite_for_upstream(req, up_, cfg_.anthropic_api_key, cfg_.claude_oauth_token);
  req.target(up_.prefix + std::string(req.target()));
  runs::global_metrics().gateway_forwarded.fetch_add(1, std::memory_order_relaxed);
  notes_(run_, note{.user = user_, .used = {.requests = 1}});
  co_return co_await send(req, client_keeps, upc_, up_, true, "the model API");
}

// git's clone and fetch of the one repository this run's token grants, with GitHub's token added here.
net::awaitable<bool> session::git(http::request_parser<http::string_body>& p) {
  const auto& head = p.get();
  auto g = parse_git_request(head.method_string(), head.target());
  auto grant = tokens_.grant_of(token_);
  std::string why;
  if (!g) why = "under /git/github.com/ only git's clone and fetch requests are served";
  else if (cfg_.github_token.empty() || !grant || grant->git_repo.empty())
    why = "this run has no repository access (only a run started from GitHub reads its own repository)";
  else if (!same_repo(grant->git_repo, g->owner + "/" + g->repo))
    why = "this run may read " + grant->git_repo + " only, not " + g->owner + "/" + g->repo;
  else if (g->push) why = "pushing is refused: a run reads its repository, its answer goes back as a comment";
  if (!why.empty()) {
    co_await refuse(c_, 403, "berth gateway: " + why, run_);
    co_return false;
  }
  // GitHub is a destination like any other: the operator lists it (BERTH_EGRESS_ALLOW) or no run reaches it.
  const auto host = parse_connect_target((git_up_.host.find(':') != std::string::npos ? "[" + git_up_.host + "]" : git_up_.host) +
                                         ":" + git_up_.port);
  const std::string repo = g->owner + "/" + g->repo;
  if (!host || !egress_listed(cfg_.egress_allow, *host)) {
    const std::string named = host ? host->text() : git_up_.host + ":" + git_up_.port;
    why = named + " (BERTH_GITHUB_GIT_BASE) is not in BERTH_EGRESS_ALLOW";
    record_egress(named, false, why, repo);
    co_await refuse(c_, 403, "berth gateway: " + why, run_);
    co_return false;
  }
  if (g->rest.starts_with("/info/refs")) record_egress(host->text(), true, "", repo);  // once per git operation
  if (!co_await read_body(p)) co_return false;
  auto req = p.release();
  const bool client_keeps = req.keep_alive();
  rewrite_for_git(req, git_up_, cfg_.github_token);
  req.target(git_up_.prefix + "/" + g->owner + "/" + g->repo + ".git" + g->rest);
  co_return co_await send(req, client_keeps, gitc_, git_up_, false, "GitHub");
}

// Sends a rewritten request over `conn` (made, or made again once when a kept connection turned out closed)
// and relays the answer. True when the worker's connection may carry its next request.
net::awaitable<bool> session::send(http::request<http::string_body>& req, bool client_keeps, upstream_conn& conn,
                                   const upstream& up, bool meter, std::string_view name) {
  req.keep_alive(true);
  req.prepare_payload();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = conn.open();
    if (!reused) {
      std::string failure;
      try {
        co_await connect_upstream(conn, up);
      } catch (const std::exception& e) {
        failure = e.what();
      }
      if (!failure.empty()) {
        conn.reset();
        runs::global_metrics().gateway_failed.fetch_add(1, std::memory_order_relaxed);
        log::warn("gateway: an upstream is unreachable", {{"run", run_}, {"upstream", std::string(name) + " at " + up.host + ":" + up.port}, {"error", failure}});
        co_await refuse(c_, 502, "berth gateway: " + std::string(name) + " is unreachable: " + failure, run_);
        co_return false;
      }
    }
    int r = conn.tls ? co_await exchange(*conn.tls, conn, req, meter) : co_await exchange(*conn.plain, conn, req, meter);
    if (r == 0) co_return client_keeps;
    conn.reset();
    if (r == 1 && reused) continue;  // the kept connection had closed: once more on a fresh one
    runs::global_metrics().gateway_failed.fetch_add(1, std::memory_order_relaxed);
    log::warn("gateway: an upstream's answer broke off", {{"run", run_}, {"upstream", std::string(name) + " at " + up.host + ":" + up.port}});
    co_return false;  // the client sees its connection close mid-answer, as it would have from the upstream
  }
  co_return false;
}

template <class From, class To>
net::awaitable<void> pipe(From& from, To& to) {
  std::array<char, 16384> b;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(net::buffer(b), tuple);
    if (ec) {
      beast::error_code ignored;
      to.shutdown(net::socket_base::shutdown_send, ignored);
      co_return;
    }
    auto [wec, wn] = co_await net::async_write(to, net::buffer(b.data(), n), tuple);
    if (wec) co_return;
  }
}

// An egress attempt on the run's journal (an `egress` event), the metrics and the log.
void session::record_egress(const std::string& target, bool allowed, const std::string& reason, const std::string& repo) {
  auto& m = runs::global_metrics();
  (allowed ? m.egress_allowed : m.egress_refused).fetch_add(1, std::memory_order_relaxed);
  nlohmann::json e = {{"target", target}, {"allowed", allowed}};
  if (!repo.empty()) e["git"] = repo;
  if (!reason.empty()) e["reason"] = reason;
  notes_(run_, note{.user = user_, .egress = e});
  if (allowed) log::info("gateway: egress allowed", {{"run", run_}, {"target", target}});
  else log::warn("gateway: egress refused", {{"run", run_}, {"target", target}, {"reason", reason}});
}

net::awaitable<void> session::tunnel(const http::request<http::string_body>& req) {
  const std::string asked(req.target().substr(0, 300));
  auto record = [&](bool allowed, const std::string& reason) { record_egress(asked, allowed, reason); };
  auto target = parse_connect_target(asked);
  if (!target) {
    record(false, "not a host:port");
    co_return co_await refuse(c_, 400, "berth gateway: CONNECT needs host:port", run_);
  }
  std::string why;
  if (!egress_listed(cfg_.egress_allow, *target)) {
    why = target->text() + " is not in BERTH_EGRESS_ALLOW";
    record(false, why);
    co_return co_await refuse(c_, 403, "berth gateway: " + why, run_);
  }
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(target->host, std::to_string(target->port), tuple);
  std::vector<net::ip::address> resolved;
  if (!rec)
    for (const auto& r : results) resolved.push_back(r.endpoint().address());
  auto addresses = dialable(cfg_.egress_allow, *target, resolved, why);
  if (rec) why = target->text() + " does not resolve: " + rec.message();
  if (addresses.empty()) {
    record(false, why);
    co_return co_await refuse(c_, 403, "berth gateway: " + why, run_);
  }
  std::vector<tcp::endpoint> endpoints;
  for (const auto& a : addresses) endpoints.emplace_back(a, target->port);
  beast::tcp_stream remote(ex);
  remote.expires_after(connect_timeout);
  auto [cec, ep] = co_await remote.async_connect(endpoints, tuple);
  if (cec) {
    record(false, "connecting failed: " + cec.message());
    co_return co_await refuse(c_, 502, "berth gateway: " + target->text() + " did not accept the connection", run_);
  }
  record(true, "");
  beast::error_code nd;
  remote.socket().set_option(tcp::no_delay(true), nd);
  remote.expires_never();
  c_.expires_never();
  static constexpr std::string_view established = "HTTP/1.1 200 Connection Established\r\n\r\n";
  auto [wec, wn] = co_await net::async_write(c_, net::buffer(established), tuple);
  if (wec) co_return;
  if (buf_.size() > 0) {  // bytes the client sent right behind its CONNECT (a TLS hello)
    auto [fec, fn] = co_await net::async_write(remote, buf_.data(), tuple);
    if (fec) co_return;
    buf_.consume(buf_.size());
  }
  auto& client = c_.socket();
  auto& server = remote.socket();
  co_await (pipe(client, server) && pipe(server, client));
}
}  // namespace

gateway::gateway(net::io_context& ioc, const config& c, runs::token_registry& tokens, note_sink notes, budget_check budget)
    : ioc_(ioc), cfg_(c), tokens_(tokens), notes_(std::move(notes)), budget_(std::move(budget)), tls_(net::ssl::context::tls_client), acceptor_(ioc), tcp_acceptor_(ioc) {
  auto u = parse_upstream(c.anthropic_base_url);
  if (!u) throw std::runtime_error("ANTHROPIC_BASE_URL is not an http(s) URL");
  upstream_ = *u;
  auto g = parse_upstream(c.github_git_base);
  if (!g) throw std::runtime_error("BERTH_GITHUB_GIT_BASE is not an http(s) URL");
  git_upstream_ = *g;
  tls_.set_default_verify_paths();
  tls_.set_verify_mode(net::ssl::verify_peer);
}

void gateway::bind(const std::string& path) {
  ::unlink(path.c_str());  // a socket left by an earlier berthd of this node
  // Sockets of other berthds that are gone (killed, so they could not remove theirs): nobody answers there.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path(), ec)) {
    const auto name = entry.path().filename().string();
    if (!name.starts_with("gateway") || !name.ends_with(".sock")) continue;
    local::socket probe(acceptor_.get_executor());
    boost::system::error_code pe;
    probe.connect(local::endpoint(entry.path().string()), pe);
    if (pe == boost::asio::error::connection_refused) std::filesystem::remove(entry.path(), ec);
  }
  local::endpoint ep(path);
  acceptor_.open(ep.protocol());
  acceptor_.bind(ep);
  acceptor_.listen(net::socket_base::max_listen_connections);
  ::chmod(path.c_str(), 0666);  // the worker's uid connects; the volume's directory stays root's
  path_ = path;
}

// One accept loop per listener; every connection, whichever way it came, is one session.
template <class Acceptor>
void gateway::accept_loop(Acceptor& acceptor) {
  net::co_spawn(
      acceptor.get_executor(),
      [this, &acceptor]() -> net::awaitable<void> {
        for (;;) {
          auto [ec, sock] = co_await acceptor.async_accept(net::make_strand(ioc_), tuple);
          if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
          if (ec) {
            refusal_log.warn("gateway: accept failed; backing off", {}, ec.message());
            net::steady_timer t(acceptor.get_executor(), 100ms);
            co_await t.async_wait(tuple);
            continue;
          }
          if (open_->fetch_add(1) >= max_connections) {
            open_->fetch_sub(1);
            refusal_log.warn("gateway: too many worker connections; refused", {}, "max " + std::to_string(max_connections));
            beast::error_code ignored;
            sock.close(ignored);
            continue;
          }
          if constexpr (std::is_same_v<Acceptor, tcp::acceptor>) {
            beast::error_code ignored;
            sock.set_option(tcp::no_delay(true), ignored);
          }
          auto s = std::make_shared<session>(generic::socket(std::move(sock)), cfg_, tokens_, notes_, budget_, upstream_,
                                             git_upstream_, tls_, open_);
          net::co_spawn(s->executor(), [s]() -> net::awaitable<void> { co_await s->run(); },
                        [](std::exception_ptr e) {
                          if (!e) return;
                          try {
                            std::rethrow_exception(e);
                          } catch (const std::exception& x) {
                            log::warn("gateway: a worker connection ended on an error", {{"error", x.what()}});
                          }
                        });
        }
      },
      net::detached);
}

void gateway::listen_tcp(const std::string& host, int port) {
  tcp::endpoint ep(net::ip::make_address(host), static_cast<unsigned short>(port));
  tcp_acceptor_.open(ep.protocol());
  tcp_acceptor_.set_option(net::socket_base::reuse_address(true));
  tcp_acceptor_.bind(ep);
  tcp_acceptor_.listen(net::socket_base::max_listen_connections);
}

int gateway::tcp_port() const {
  beast::error_code ec;
  auto ep = tcp_acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void gateway::start() {
  if (acceptor_.is_open()) accept_loop(acceptor_);
  if (tcp_acceptor_.is_open()) accept_loop(tcp_acceptor_);
}

void gateway::stop() {
  beast::error_code ec;
  acceptor_.close(ec);
  tcp_acceptor_.close(ec);
  if (!path_.empty()) ::unlink(path_.c_str());
}

}  // namespace berth::gateway
