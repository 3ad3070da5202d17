// The gateway's pure parts: usage metering split anywhere, the egress policy, the upstream URL and request
// rewrite, and the run tokens.
#include <catch2/catch.hpp>

#include <boost/beast/http/fields.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "server/gateway/egress_policy.hpp"
#include "server/gateway/git_route.hpp"
#include "server/gateway/upstream.hpp"
#include "server/gateway/usage_meter.hpp"
#include "server/runs/run_tokens.hpp"

using namespace berth;
using namespace berth::gateway;
namespace ip = boost::asio::ip;

namespace {
const std::string stream =
    "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":120,"
    "\"cache_creation_input_tokens\":7,\"cache_read_input_tokens\":30,\"output_tokens\":1}}}\r\n\r\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"message_delta usage\"}}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

usage total_split_at(std::size_t cut) {
  usage_meter m(true);
  usage total;
  total += m.feed(std::string_view(stream).substr(0, cut));
  total += m.feed(std::string_view(stream).substr(cut));
  total += m.finish();
  return total;
}
}  // namespace

TEST_CASE("usage: a streamed answer is metered the same however it is split") {
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    auto u = total_split_at(cut);
    INFO(cut);
    REQUIRE(u.input_tokens == 120);
    REQUIRE(u.output_tokens == 42);  // cumulative in message_delta: the last count, not a sum
    REQUIRE(u.cache_creation_input_tokens == 7);
    REQUIRE(u.cache_read_input_tokens == 30);
  }
}

TEST_CASE("usage: a JSON answer - garbage - an over-long line - nesting: metered or ignored, never thrown") {
  usage_meter j(false);
  CHECK(j.feed(R"({"type":"message","usage":{"input_tokens":5,"output_tokens":9}})").empty());
  auto u = j.finish();
  CHECK(u.input_tokens == 5);
  CHECK(u.output_tokens == 9);
  usage_meter bad(false);
  bad.feed("{not json");
  CHECK(bad.finish().empty());
  usage_meter deep(true);
  CHECK(deep.feed("data: {\"type\":\"message_delta\",\"usage\":" + std::string(10000, '[') + "\n").empty());
  usage_meter longline(true);
  longline.feed("data: " + std::string(2 << 20, 'x'));
  CHECK(longline.feed("\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\n").output_tokens == 3);
  usage_meter negative(true);
  CHECK(negative.feed("data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":-4}}\n").empty());
}

TEST_CASE("usage: sums - json round trip") {
  usage a{.requests = 1, .input_tokens = 2, .output_tokens = 3, .cache_read_input_tokens = 4, .cache_creation_input_tokens = 5};
  usage b = a;
  b += a;
  CHECK(b.requests == 2);
  CHECK(b.cache_creation_input_tokens == 10);
  auto back = usage_from_json(b.to_json());
  CHECK(back.output_tokens == 6);
  CHECK(usage_from_json(nlohmann::json::parse(R"({"requests":"x","input_tokens":7})")).input_tokens == 7);
  CHECK(usage_from_json(nullptr).empty());
}

TEST_CASE("egress: CONNECT targets are parsed strictly") {
  auto t = parse_connect_target("Example.COM:443");
  REQUIRE(t);
  CHECK(t->host == "example.com");
  CHECK(t->port == 443);
  auto v6 = parse_connect_target("[::1]:8443");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->text() == "[::1]:8443");
  for (auto bad : {"", "example.com", "example.com:", ":443", "a:b:443", "host:0", "host:70000", "host:44x",
                   "ho st:443", "[::1]443", "h/x:443"})
    CHECK_FALSE(parse_connect_target(bad));
}

TEST_CASE("egress: the list names hosts exactly or by *.domain - internal addresses only when named literally") {
  const std::vector<std::string> allow = {"api.github.com:443", "*.npmjs.org:443", "127.0.0.1:9000"};
  auto t = [](const char* s) { return *parse_connect_target(s); };
  CHECK(egress_listed(allow, t("api.github.com:443")));
  CHECK_FALSE(egress_listed(allow, t("api.github.com:80")));
  CHECK_FALSE(egress_listed(allow, t("github.com:443")));
  CHECK(egress_listed(allow, t("registry.npmjs.org:443")));
  CHECK_FALSE(egress_listed(allow, t("npmjs.org:443")));
  CHECK_FALSE(egress_listed(allow, t("evilnpmjs.org:443")));
  CHECK_FALSE(egress_listed({}, t("api.github.com:443")));  // the default: nothing

  std::string why;
  auto public_ip = ip::make_address("140.82.112.6");
  CHECK(dialable(allow, t("api.github.com:443"), {public_ip}, why).size() == 1);
  // A listed name resolving to the host's or the cloud's internals is refused.
  for (auto inside : {"127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                      "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254", "fc00::5", "::ffff:10.0.0.1"}) {
    INFO(inside);
    CHECK(is_special_address(ip::make_address(inside)));
    CHECK(dialable(allow, t("registry.npmjs.org:443"), {ip::make_address(inside)}, why).empty());
  }
  CHECK(why.find("internal addresses") != std::string::npos);
  CHECK(dialable(allow, t("127.0.0.1:9000"), {ip::make_address("127.0.0.1")}, why).size() == 1);
  CHECK(dialable(allow, t("127.0.0.1:9001"), {ip::make_address("127.0.0.1")}, why).empty());
  CHECK(why.find("not in BERTH_EGRESS_ALLOW") != std::string::npos);
  CHECK_FALSE(is_special_address(public_ip));
}

TEST_CASE("upstream: base URLs - the Messages API family - rewritten headers carry only the real credential") {
  auto d = parse_upstream("");
  REQUIRE(d);
  CHECK(d->tls);
  CHECK(d->host == "api.anthropic.com");
  auto l = parse_upstream("http://127.0.0.1:8089/prefix/");
  REQUIRE(l);
  CHECK_FALSE(l->tls);
  CHECK(l->port == "8089");
  CHECK(l->prefix == "/prefix");
  CHECK(parse_upstream("https://[::1]:9443")->host == "::1");
  CHECK_FALSE(parse_upstream("ftp://x"));
  CHECK_FALSE(parse_upstream("http://user:pw@host"));
  CHECK_FALSE(parse_upstream("http://host:x1"));

  CHECK(is_model_api("POST", "/v1/messages"));
  CHECK(is_model_api("POST", "/v1/messages?beta=true"));
  CHECK(is_model_api("POST", "/v1/messages/count_tokens"));
  CHECK_FALSE(is_model_api("GET", "/v1/messages"));
  CHECK_FALSE(is_model_api("POST", "/v1/messages/batches"));
  CHECK_FALSE(is_model_api("POST", "/v1/complete"));
  CHECK_FALSE(is_model_api("POST", "/v1/messages/../files"));

  boost::beast::http::fields f;
  f.set("x-api-key", "brt-token");
  f.set("authorization", "Bearer brt-token");
  f.set("proxy-authorization", "x");
  f.set("accept-encoding", "gzip");
  f.set("anthropic-version", "2023-06-01");
  CHECK(presented_token(f) == "brt-token");
  rewrite_for_upstream(f, *l, "sk-real", "");
  CHECK(f["x-api-key"] == "sk-real");
  CHECK(f.count("authorization") == 0);
  CHECK(f.count("proxy-authorization") == 0);
  CHECK(f.count("accept-encoding") == 0);
  CHECK(f["host"] == "127.0.0.1:8089");
  CHECK(f["anthropic-version"] == "2023-06-01");
  boost::beast::http::fields o;
  o.set("authorization", "Bearer brt-token");
  CHECK(presented_token(o) == "brt-token");
  rewrite_for_upstream(o, *d, "", "oauth-real");
  CHECK(o["authorization"] == "Bearer oauth-real");
  CHECK(o.count("x-api-key") == 0);
  CHECK(o["host"] == "api.anthropic.com");
}

TEST_CASE("run tokens: 256 bits per run - stable for a secret - open only between open and close") {
  auto a = runs::run_token("secret-1", "run-a");
  CHECK(a.size() == 4 + 64);
  CHECK(a == runs::run_token("secret-1", "run-a"));
  CHECK(a != runs::run_token("secret-2", "run-a"));
  CHECK(a != runs::run_token("secret-1", "run-b"));
  CHECK(runs::new_gateway_secret() != runs::new_gateway_secret());
  runs::token_registry r("secret-1");
  CHECK_FALSE(r.run_of(a));
  auto first = r.open("run-a");
  CHECK(r.run_of(a) == "run-a");
  CHECK_FALSE(r.run_of(runs::run_token("secret-1", "run-b")));
  CHECK_FALSE(r.run_of(""));
  auto second = r.open("run-a");  // launched again before the first thread let go
  r.close("run-a", first);        // the first thread's late close does not close the second's token
  CHECK(r.run_of(a) == "run-a");
  r.close("run-a", second);
  CHECK_FALSE(r.run_of(a));
  CHECK(r.open_count() == 0);
}

TEST_CASE("git route: clone and fetch steps of owner/repo - push steps marked - anything else refused") {
  using gateway::parse_git_request;
  auto refs = parse_git_request("GET", "/git/github.com/octo/widgets.git/info/refs?service=git-upload-pack");
  REQUIRE(refs);
  CHECK(refs->owner == "octo");
  CHECK(refs->repo == "widgets");
  CHECK(refs->rest == "/info/refs?service=git-upload-pack");
  CHECK_FALSE(refs->push);
  auto bare = parse_git_request("POST", "/git/github.com/Octo/my.repo_1/git-upload-pack");  // cloned without .git
  REQUIRE(bare);
  CHECK(bare->repo == "my.repo_1");
  CHECK(bare->rest == "/git-upload-pack");
  auto push = parse_git_request("GET", "/git/github.com/octo/widgets.git/info/refs?service=git-receive-pack");
  REQUIRE(push);
  CHECK(push->push);
  CHECK(parse_git_request("POST", "/git/github.com/octo/widgets/git-receive-pack")->push);
  for (auto [m, t] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/git/github.com/octo/widgets.git/info/refs?service=git-upload-pack"},  // wrong method
           {"GET", "/git/github.com/octo/widgets.git/git-upload-pack"},
           {"GET", "/git/github.com/octo/widgets.git/HEAD"},                                 // dumb protocol
           {"GET", "/git/github.com/octo/widgets.git/info/refs"},                            // no service
           {"GET", "/git/github.com/../widgets.git/info/refs?service=git-upload-pack"},
           {"GET", "/git/github.com/octo/..git/info/refs?service=git-upload-pack"},
           {"GET", "/git/github.com/oc%2fto/widgets/info/refs?service=git-upload-pack"},
           {"GET", "/git/github.com/octo/info/refs?service=git-upload-pack"},
           {"GET", "/git/gitlab.com/octo/widgets.git/info/refs?service=git-upload-pack"},
           {"GET", "/git/github.com/octo"}})
    CHECK_FALSE(parse_git_request(m, t));
  CHECK(gateway::same_repo("Octo/Widgets", "octo/widgets"));
  CHECK_FALSE(gateway::same_repo("octo/widgets", "octo/widget"));
  CHECK(gateway::git_basic_auth("ghp_x") == "Basic eC1hY2Nlc3MtdG9rZW46Z2hwX3g=");
}

TEST_CASE("run tokens: a run GitHub started may read its repository - no other run may read any") {
  CHECK(runs::git_repo_of_trigger("github:octo/widgets#7") == "octo/widgets");
  CHECK(runs::git_repo_of_trigger("schedule:abc").empty());
  CHECK(runs::git_repo_of_trigger("").empty());
  CHECK(runs::git_repo_of_trigger("github:#7").empty());
  CHECK(runs::git_repo_of_trigger("github:octo/#7").empty());
  runs::token_registry r("s");
  r.open("run-gh", "github.alice", "octo/widgets");
  r.open("run-api");
  CHECK(r.grant_of(r.token_of("run-gh"))->git_repo == "octo/widgets");
  CHECK(r.grant_of(r.token_of("run-api"))->git_repo.empty());
  CHECK(r.grant_of(r.token_of("run-api"))->run == "run-api");
}

TEST_CASE("config: gateway and egress settings") {
  auto env = [](std::map<std::string, std::string> m) {
    m["BERTH_API_KEYS"] = "0123456789abcdef";
    return [m](const std::string& k) -> std::optional<std::string> {
      auto it = m.find(k);
      if (it == m.end()) return std::nullopt;
      return it->second;
    };
  };
  auto c = parse_config(env({{"BERTH_EGRESS_ALLOW", "api.github.com:443,*.npmjs.org:443"}, {"BERTH_GATEWAY_MAX_BODY_BYTES", "4m"}}));
  CHECK(c.egress_allow.size() == 2);
  CHECK(c.gateway_max_body_bytes == 4 << 20);
  CHECK(c.gateway_relay_port == 8119);
  CHECK_THROWS_AS(parse_config(env({{"BERTH_EGRESS_ALLOW", "api.github.com"}})), config_error);
  CHECK_THROWS_AS(parse_config(env({{"BERTH_EGRESS_ALLOW", "x:99999"}})), config_error);
}
