// The credential gateway from the outside, as a worker's relay reaches it: berthd's unix socket, a line
// naming the run's token, then HTTP. Against the fake Messages API on loopback (what it received is
// checked: nothing refused may reach it). The real CLI through the gateway is in claude_test.cpp.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
#include "fake_anthropic.hpp"
#include "gateway_helpers.hpp"
#include "raw_http.hpp"
#include "run_helpers.hpp"

using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
const std::string real_key = "sk-ant-gateway-REAL-81f0c3d2";

struct gateway_env {
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", real_key}}};
  berthd_process d = berthd_process({{"BERTH_ENGINES", "script,echo,claude"},
                                     {"BERTH_DEFAULT_ENGINE", "echo"},
                                     {"BERTH_GATEWAY_MAX_BODY_BYTES", "1m"},
                                     {"ANTHROPIC_API_KEY", real_key},
                                     {"ANTHROPIC_BASE_URL", fake.base_url()}});
  api_client api{d.port(), test_key};
  std::string socket = gateway_socket(d);
  // A run whose worker waits silently: its token is open until it is cancelled.
  std::string open_run() {
    auto id = api.start_run({{"user", "gw"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "silent"}}}});
    REQUIRE(eventually([&] { return api.get("/api/v1/runs/" + id).json()["status"] == "running"; }, 20s));
    return id;
  }
  std::string exchange(const std::string& preamble_token, const std::string& request, std::chrono::milliseconds limit = 5s) {
    raw_connection c(socket);
    c.send("BERTH " + preamble_token + "\n" + request);
    return c.read_all(limit);
  }
};

std::string metric(api_client& api, const std::string& line_start) {
  auto body = api.get("/metrics").body;
  auto at = body.find("\n" + line_start + " ");
  if (at == std::string::npos) return "";
  at += line_start.size() + 2;
  return body.substr(at, body.find('\n', at) - at);
}
}  // namespace

TEST_CASE("gateway: the real key is swapped in - the answer streams - usage is berthd's count", "[integration][gateway]") {
  gateway_env env;
  auto run = env.open_run();
  auto token = gateway_token(env.d, run);
  auto answer = env.exchange(token, messages_request(token, "@@text:7"), 10s);
  CHECK(status_of(answer) == 200);
  CHECK(answer.find("message_stop") != std::string::npos);
  auto seen = env.fake.message_requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["key_matched"] == true);  // the fake required the real key, and got it
  const auto reported = seen[0]["usage"];
  auto usage = env.api.get("/api/v1/runs/" + run).json()["usage"];
  CHECK(usage["requests"] == 1);
  CHECK(usage["input_tokens"] == reported["input_tokens"]);
  CHECK(usage["output_tokens"] == reported["output_tokens"]);
  CHECK(usage["output_tokens"] == 7);
  CHECK(metric(env.api, "berth_tokens_total{kind=\"output\"}") == "7");
  CHECK(env.api.del("/api/v1/runs/" + run).status == 202);
  env.api.wait_done(run);
}

TEST_CASE("gateway: ended - made-up and misused tokens - other paths - big bodies: refused and never forwarded",
          "[integration][gateway]") {
  gateway_env env;
  auto run = env.open_run();
  auto token = gateway_token(env.d, run);

  auto made_up = env.exchange("brt-" + std::string(64, 'a'), messages_request(token, "hi"));
  CHECK(status_of(made_up) == 401);
  CHECK(made_up.find("authentication_error") != std::string::npos);
  CHECK(status_of(env.exchange(token, messages_request("brt-someone-else", "hi"))) == 401);
  CHECK(status_of(env.exchange(token, messages_request(real_key, "hi"))) == 401);  // not even the real key
  auto models = env.exchange(token, "GET /v1/models HTTP/1.1\r\nHost: x\r\nx-api-key: " + token + "\r\n\r\n");
  CHECK(status_of(models) == 403);
  CHECK(models.find("permission_error") != std::string::npos);
  CHECK(status_of(env.exchange(token, "POST /v1/complete HTTP/1.1\r\nHost: x\r\nx-api-key: " + token +
                                          "\r\ncontent-length: 2\r\n\r\n{}")) == 403);
  // Announced over the limit: refused from the headers, before any body is read.
  auto big = env.exchange(token, "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + token +
                                     "\r\ncontent-type: application/json\r\ncontent-length: 5000000\r\n\r\n");
  CHECK(status_of(big) == 413);
  // Chunked past the limit: refused when the limit is crossed.
  std::string chunked = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + token +
                        "\r\ntransfer-encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) chunked += "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
  CHECK(status_of(env.exchange(token, chunked)) == 413);

  CHECK(env.api.del("/api/v1/runs/" + run).status == 202);
  env.api.wait_done(run);
  auto ended = env.exchange(token, messages_request(token, "hi"));
  CHECK(status_of(ended) == 401);

  CHECK(env.fake.message_requests().empty());
  for (const auto& r : env.fake.requests()) CHECK(r["path"] != "/v1/models");
  CHECK(std::stoi(metric(env.api, "berth_gateway_requests_total{outcome=\"refused\"}")) >= 8);
}

TEST_CASE("gateway: hostile input - malformed - huge headers - slow clients - 1000 bad tokens: berthd serves on",
          "[integration][gateway]") {
  gateway_env env;
  auto run = env.open_run();
  auto token = gateway_token(env.d, run);
  CHECK(status_of(env.exchange(token, "NOT HTTP AT ALL\r\n\r\n")) == 400);
  CHECK(status_of(env.exchange(token, "POST /v1/messages HTTP/1.1\r\nX-Big: " + std::string(100000, 'h') + "\r\n\r\n")) == 431);
  auto no_newline = env.exchange("", std::string(4096, 'z'));  // a preamble that never ends
  CHECK(status_of(no_newline) == 401);
  // Slow clients: connections that say nothing hold nobody else up.
  std::vector<std::unique_ptr<raw_connection>> idle;
  for (int i = 0; i < 50; ++i) idle.push_back(std::make_unique<raw_connection>(env.socket));
  std::atomic<int> refused{0};
  std::vector<std::jthread> floods;
  for (int t = 0; t < 4; ++t)
    floods.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        auto bad = "brt-" + std::to_string(t) + "-" + std::to_string(i);
        if (status_of(env.exchange(bad, messages_request(bad, "x"), 5s)) == 401) ++refused;
      }
    });
  for (int i = 0; i < 20; ++i) CHECK(env.api.get("/health").status == 200);
  floods.clear();
  CHECK(refused == 1000);
  idle.clear();
  // Everything else still works: the live token gets its answer, the API answers.
  CHECK(status_of(env.exchange(token, messages_request(token, "@@text:3"), 10s)) == 200);
  CHECK(env.fake.message_requests().size() == 1);
  CHECK(env.api.get("/health").status == 200);
  CHECK(env.api.del("/api/v1/runs/" + run).status == 202);
  env.api.wait_done(run);
}

TEST_CASE("gateway: a warm spare's key is refused alone - accepted beside its run's open token - refused after the run",
          "[integration][gateway]") {
  gateway_env env;
  const std::string spare_key = "berth-spare-5e1f0c";
  // Before a run claims the spare, its relay can name only the spare's key: no run has it.
  CHECK(status_of(env.exchange(spare_key, messages_request(spare_key, "@@text:2"))) == 401);
  auto run = env.open_run();
  auto token = gateway_token(env.d, run);
  // Claimed: the relay names the run's token and the key the CLI was started with; the CLI presents the key.
  CHECK(status_of(env.exchange(token + " " + spare_key, messages_request(spare_key, "@@text:2"), 10s)) == 200);
  CHECK(status_of(env.exchange(token + " " + spare_key, messages_request("berth-spare-other", "@@text:2"))) == 401);
  CHECK(status_of(env.exchange(spare_key + " " + token, messages_request(token, "@@text:2"))) == 401);  // order matters
  CHECK(env.api.del("/api/v1/runs/" + run).status == 202);
  env.api.wait_done(run);
  CHECK(status_of(env.exchange(token + " " + spare_key, messages_request(spare_key, "@@text:2"))) == 401);
  CHECK(env.fake.message_requests().size() == 1);  // only the claimed request reached the model API
}

TEST_CASE("gateway: TLS to the model API is verified - an untrusted certificate is refused - a trusted one serves",
          "[integration][gateway]") {
  temp_dir dir;
  const auto cert = dir.path + "/cert.pem", key = dir.path + "/key.pem";
  const std::string make = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
                           "subjectAltName=DNS:localhost -keyout " + key + " -out " + cert + " >/dev/null 2>&1";
  REQUIRE(std::system(make.c_str()) == 0);
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", real_key}, {"FAKE_ANTHROPIC_TLS_CERT", cert}, {"FAKE_ANTHROPIC_TLS_KEY", key}}};
  auto exchange_with = [&](berthd_process& d) {
    api_client api(d.port(), test_key);
    auto run = api.start_run({{"user", "tls"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "silent"}}}});
    REQUIRE(eventually([&] { return api.get("/api/v1/runs/" + run).json()["status"] == "running"; }, 20s));
    auto token = gateway_token(d, run);
    raw_connection c(gateway_socket(d));
    c.send("BERTH " + token + "\n" + messages_request(token, "@@text:2"));
    auto answer = c.read_all(10s);
    CHECK(api.del("/api/v1/runs/" + run).status == 202);
    api.wait_done(run);
    return answer;
  };
  {
    // The system's CA bundle does not know this certificate: nothing is sent, the worker gets a 502.
    berthd_process d({{"BERTH_ENGINES", "script,echo"}, {"BERTH_DEFAULT_ENGINE", "echo"}, {"ANTHROPIC_API_KEY", real_key},
                      {"ANTHROPIC_BASE_URL", fake.tls_url()}});
    auto answer = exchange_with(d);
    CHECK(status_of(answer) == 502);
    CHECK(answer.find("unreachable") != std::string::npos);
    CHECK(fake.message_requests().empty());
  }
  {
    // Trusted (OpenSSL's SSL_CERT_FILE), but named by an address the certificate does not carry: refused.
    berthd_process d({{"BERTH_ENGINES", "script,echo"}, {"BERTH_DEFAULT_ENGINE", "echo"}, {"ANTHROPIC_API_KEY", real_key},
                      {"ANTHROPIC_BASE_URL", fake.tls_url("127.0.0.1")}, {"SSL_CERT_FILE", cert}});
    CHECK(status_of(exchange_with(d)) == 502);
    CHECK(fake.message_requests().empty());
  }
  {
    berthd_process d({{"BERTH_ENGINES", "script,echo"}, {"BERTH_DEFAULT_ENGINE", "echo"}, {"ANTHROPIC_API_KEY", real_key},
                      {"ANTHROPIC_BASE_URL", fake.tls_url()}, {"SSL_CERT_FILE", cert}});
    auto answer = exchange_with(d);
    CHECK(status_of(answer) == 200);
    CHECK(answer.find("message_stop") != std::string::npos);
    auto seen = fake.message_requests();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0]["key_matched"] == true);
  }
}

TEST_CASE("gateway: on TCP too (BERTH_GATEWAY_LISTEN) - the same token rules - a real claude run's relay dials it "
          "(BERTH_GATEWAY_ADVERTISE)", "[integration][gateway]") {
  // A free loopback port for the listener (workers must be told it, so 0 will not do).
  int port = 0;
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ::close(fd);
  }
  const std::string address = "127.0.0.1:" + std::to_string(port);
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", real_key}}};
  // The worker on the host's network reaches the loopback listener, as a cluster's worker reaches berthd's
  // address on the overlay; its relay has no other way to the gateway (the task names only tcp:<address>).
  berthd_process d({{"BERTH_ENGINES", "script,claude"},
                    {"BERTH_DEFAULT_ENGINE", "claude"},
                    {"BERTH_WORKER_NETWORK", "host"},
                    {"BERTH_GATEWAY_LISTEN", address},
                    {"BERTH_GATEWAY_ADVERTISE", address},
                    {"ANTHROPIC_API_KEY", real_key},
                    {"ANTHROPIC_BASE_URL", fake.base_url()}});
  api_client api(d.port(), test_key);
  CHECK(d.log().find("gateway listening on TCP") != std::string::npos);

  auto waiting = api.start_run({{"user", "gw"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "silent"}}}});
  REQUIRE(eventually([&] { return api.get("/api/v1/runs/" + waiting).json()["status"] == "running"; }, 20s));
  auto token = gateway_token(d, waiting);
  auto over_tcp = [&](const std::string& preamble_token, const std::string& request) {
    raw_connection c(port);
    c.send("BERTH " + preamble_token + "\n" + request);
    return c.read_all(10s);
  };
  CHECK(status_of(over_tcp(token, messages_request(token, "@@text:2"))) == 200);
  CHECK(status_of(over_tcp("brt-" + std::string(64, 'a'), messages_request(token, "hi"))) == 401);
  CHECK(status_of(over_tcp(token, messages_request(real_key, "hi"))) == 401);
  CHECK(api.del("/api/v1/runs/" + waiting).status == 202);
  api.wait_done(waiting);
  CHECK(status_of(over_tcp(token, messages_request(token, "hi"))) == 401);  // ended: refused on TCP as on the socket

  auto run = api.start_run({{"user", "gw"}, {"message", "@@text:3"}});
  auto done = api.wait_done(run);
  CHECK(done["status"] == "succeeded");
  auto seen = fake.message_requests();
  REQUIRE(seen.size() >= 2);
  for (const auto& r : seen) CHECK(r["key_matched"] == true);  // the real key, added by the gateway only
  CHECK(spelled(stored_events(api, run)).find("word1") != std::string::npos);
}
