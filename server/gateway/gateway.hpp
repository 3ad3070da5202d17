// The credential gateway: berthd's own acceptor on a unix socket in a named volume that every worker mounts
// (workers have no network of their own) — and, with BERTH_GATEWAY_LISTEN, on TCP for workers on other nodes.
// berth-worker relays the CLI's loopback connections to it, each opened with one line `BERTH <run token>`. On
// such a connection the gateway
//   - forwards Messages API requests carrying that run's token to ANTHROPIC_BASE_URL, with the token swapped
//     for the real credential, streaming the answer back as it comes and metering its usage;
//   - forwards git's clone and fetch requests of a run started from GitHub, for that run's repository only,
//     to BERTH_GITHUB_GIT_BASE with BERTH_GITHUB_TOKEN added (server/gateway/git_route.hpp);
//   - answers CONNECT host:port for targets BERTH_EGRESS_ALLOW names (checked after resolution) and splices
//     the tunnel, refusing the rest with 403;
//   - refuses model requests of a user over a daily budget (403, and a note that ends the run `failed`);
//   - refuses everything else itself (401 unknown or ended token, 403 other paths, 413 body over
//     BERTH_GATEWAY_MAX_BODY_BYTES, 400/431 malformed): nothing refused reaches the upstream.
// Every allowed and refused CONNECT and every metered answer is handed to `notes` for the run's journal.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "server/runs/run_tokens.hpp"
#include "server/gateway/upstream.hpp"
#include "server/gateway/usage_meter.hpp"

namespace berth::gateway {

struct note {
  std::string user;                          // whose run it is
  usage used;                                // tokens an answer reported (and requests forwarded)
  nlohmann::json egress = nullptr;           // a CONNECT attempt: {target, allowed, reason}
  std::string refused;                       // a model call was refused for the user's budget: why
};
using note_sink = std::function<void(const std::string& run, const note& n)>;
// Why `user` may not call the model now (over a budget), or nullopt.
using budget_check = std::function<std::optional<std::string>(const std::string& user)>;

class gateway {
 public:
  gateway(boost::asio::io_context& ioc, const config& c, runs::token_registry& tokens, note_sink notes,
          budget_check budget = {});
  // Creates the socket at `path` (a stale one is replaced), mode 0666 so the worker's uid may connect.
  void bind(const std::string& path);
  // Also on TCP, for workers on other nodes (BERTH_GATEWAY_LISTEN): the same protocol — each
  // connection opens with `BERTH <run token>`, so only a live run's worker gets anything. Port 0: any free.
  void listen_tcp(const std::string& host, int port);
  int tcp_port() const;  // 0 when not listening on TCP
  void start();
  void stop();  // closes the acceptor (and removes the socket); open connections end with berthd's I/O threads

 private:
  template <class Acceptor>
  void accept_loop(Acceptor& acceptor);  // one per listener; every connection becomes one session

  boost::asio::io_context& ioc_;
  const config& cfg_;
  runs::token_registry& tokens_;
  note_sink notes_;
  budget_check budget_;
  upstream upstream_;
  upstream git_upstream_;  // BERTH_GITHUB_GIT_BASE
  boost::asio::ssl::context tls_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::ip::tcp::acceptor tcp_acceptor_;
  std::string path_;
  // Open worker connections (capped at accept); shared with the sessions, which may outlive a stopped gateway.
  std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace berth::gateway
