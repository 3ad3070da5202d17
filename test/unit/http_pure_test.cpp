#include <catch2/catch.hpp>

#include "server/http/auth.hpp"
#include "server/http/client_address.hpp"
#include "server/http/failure_limiter.hpp"
#include "server/http/router.hpp"
#include "server/http/routes.hpp"
#include "server/http/sse.hpp"

using namespace berth::http;

TEST_CASE("sse: an event is id - event - data - blank line") {
  CHECK(sse_frame(3, "text", R"({"run":"R","text":"hi"})") == "id: 3\nevent: text\ndata: {\"run\":\"R\",\"text\":\"hi\"}\n\n");
}

TEST_CASE("sse: a multi-line payload becomes several data lines") {
  CHECK(sse_frame(1, "log", "a\nb\r\nc") == "id: 1\nevent: log\ndata: a\ndata: b\ndata: c\n\n");
  CHECK(sse_frame(2, "x", "") == "id: 2\nevent: x\ndata: \n\n");
  // A lone CR ends a line for EventSource too: it may not start a field of its own (fuzz_sse found it).
  CHECK(sse_frame(3, "x", "a\revent: done") == "id: 3\nevent: x\ndata: a\ndata: event: done\n\n");
}

TEST_CASE("sse: Last-Event-ID parsing") {
  CHECK(parse_last_event_id("17") == 17);
  CHECK(parse_last_event_id(" 0 ") == 0);
  CHECK_FALSE(parse_last_event_id("-1"));
  CHECK_FALSE(parse_last_event_id("abc"));
  CHECK_FALSE(parse_last_event_id(""));
}

namespace {
route_match match(std::string_view method, std::string_view target, unsigned listener = main_listener) {
  return match_route(routes(), method, target, listener);
}
}  // namespace

TEST_CASE("router: API paths - methods and parameters") {
  auto m = match("GET", "/api/v1/runs/01ABC/events?after=4");
  REQUIRE(m.result == match_result::found);
  CHECK(m.row->handler == api_run_events);
  CHECK(m.param == "01ABC");
  CHECK(m.query.at("after") == "4");
  CHECK(match("POST", "/api/v1/runs").row->handler == api_create_run);
  CHECK(match("POST", "/webhook").row->handler == api_create_run);
  CHECK(match("GET", "/api/v1/runs?user=a%20b").query.at("user") == "a b");
  CHECK(match("DELETE", "/api/v1/runs/X").row->handler == api_cancel_run);
  CHECK(match("HEAD", "/api/v1/runs/X").row->handler == api_get_run);
  CHECK(match("PUT", "/api/v1/runs").result == match_result::method_not_allowed);
  CHECK(match("GET", "/api/v1/runs/X/other").result == match_result::not_found);
  CHECK(match("GET", "/api/v1/runs//events").result == match_result::not_found);
  CHECK(match("GET", "/nope").result == match_result::not_found);
  CHECK(match("GET", "/health").row->handler == api_health);
  CHECK(match("GET", "/health/").row->handler == api_health);
  auto u = match("PUT", "/api/v1/users/a%2Eb/instructions");
  CHECK(u.row->handler == api_instructions);
  CHECK(u.param == "a.b");
}

TEST_CASE("router: the metrics listener serves /metrics only - without a key") {
  auto m = match("GET", "/metrics", metrics_listener);
  REQUIRE(m.row);
  CHECK(m.row->auth == auth_kind::none);
  CHECK(match("GET", "/metrics").row->auth == auth_kind::key);
  for (auto path : {"/health", "/ready", "/api/v1/runs", "/dashboard", "/hooks/slack"})
    CHECK(match("GET", path, metrics_listener).result == match_result::not_found);
}

TEST_CASE("router: every API row needs a key - every open row is named") {
  for (const auto& r : routes()) {
    INFO(r.method << " " << r.path);
    if (is_api_path(r.path) || r.path == "/webhook") CHECK(r.auth == auth_kind::key);
    if (r.path.starts_with("/dashboard/api/")) CHECK(r.auth == auth_kind::cookie);
    if (r.path.starts_with("/hooks/")) CHECK(r.auth == auth_kind::signature);
    if (r.auth == auth_kind::none)
      CHECK((r.path == "/health" || r.path == "/ready" || r.path == "/metrics" || r.path.starts_with("/dashboard/login") ||
             r.path == "/dashboard/logout" || r.path.starts_with("/dashboard/assets/")));
    if (r.where == run_on::io) CHECK(r.auth != auth_kind::key);  // nothing behind a key is answered without the pool
  }
  CHECK(is_api_path("/api/v1/nothing-here"));
  CHECK_FALSE(is_api_path("/apix"));
}

TEST_CASE("auth: keys match exactly - from either header") {
  key_matcher k({"first-key-0123456789", "second-key-0123456789"});
  CHECK(k.matches("second-key-0123456789"));
  CHECK_FALSE(k.matches("second-key-012345678"));
  CHECK_FALSE(k.matches(""));
  CHECK_FALSE(k.matches("second-key-0123456789x"));
  CHECK_FALSE(k.matches("second-key-0123456789second-key-0123456789"));  // a repeated key is not the key
  CHECK(k.matches("first-key-0123456789"));
  CHECK_FALSE(k.matches("First-key-0123456789"));
  CHECK_FALSE(berth::http::same_secret("", ""));
  CHECK(presented_key("abc", "") == "abc");
  CHECK(presented_key("", "Bearer xyz") == "xyz");
  CHECK(presented_key("", "Basic xyz").empty());
  CHECK(presented_key("", "bearer xyz") == "xyz");  // RFC 7235: the scheme is case-insensitive
  CHECK(presented_key("", "BEARER   xyz") == "xyz");
  CHECK(presented_key("", "Bearerxyz").empty());
}

TEST_CASE("failure limiter: per client - then in all - windows reset") {
  failure_limiter f({.per_client = 3, .global = 5, .window_ms = 60000});
  for (int i = 0; i < 3; ++i) {
    CHECK(f.retry_after_s("a", 1000) == 0);
    f.record_failure("a", 1000);
  }
  CHECK(f.retry_after_s("a", 1000) == 60);
  CHECK(f.retry_after_s("a", 31000) == 30);
  CHECK(f.retry_after_s("b", 1000) == 0);  // another client is not locked out by a's failures
  f.record_failure("b", 2000);
  f.record_failure("c", 2000);
  CHECK(f.retry_after_s("d", 2000) > 0);  // 5 failures in all: the global bound holds for everyone
  CHECK(f.retry_after_s("a", 61000) == 0);  // a new window
  CHECK(f.refused() == 3);
}

TEST_CASE("client address: X-Forwarded-For counts only from a trusted proxy") {
  std::vector<std::string> trusted = {"10.0.0.0/8", "::1"};
  CHECK(client_address("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9");  // not a proxy: header ignored
  CHECK(client_address("10.1.2.3", "1.2.3.4", trusted) == "1.2.3.4");
  CHECK(client_address("10.1.2.3", "6.6.6.6, 1.2.3.4, 10.9.9.9", trusted) == "1.2.3.4");  // spoofed head ignored
  CHECK(client_address("::1", "", trusted) == "::1");
  CHECK(is_trusted_proxy("::ffff:10.0.0.1", trusted));
  CHECK_FALSE(is_trusted_proxy("11.0.0.1", trusted));
  CHECK(is_trusted_proxy("172.20.0.5", {"172.16.0.0/12"}));
  CHECK_FALSE(is_trusted_proxy("172.32.0.5", {"172.16.0.0/12"}));
  CHECK_FALSE(is_trusted_proxy("not an address", trusted));
}

TEST_CASE("auth: a scoped key names its users - prefixes with a trailing star") {
  key_matcher k({"all-users-key-0123456789", "alice-key-0123456789"}, {{"alice-key-0123456789", {"alice", "team-*"}}});
  auto all = k.match("all-users-key-0123456789");
  REQUIRE(all);
  CHECK(*all == nullptr);
  auto alice = k.match("alice-key-0123456789");
  REQUIRE(alice);
  CHECK(scope_allows(*alice, "alice"));
  CHECK(scope_allows(*alice, "team-x"));
  CHECK_FALSE(scope_allows(*alice, "team"));
  CHECK_FALSE(scope_allows(*alice, "alicex"));
  CHECK_FALSE(scope_allows(*alice, "bob"));
  CHECK(scope_allows(nullptr, "anyone"));
  CHECK_FALSE(k.match("nope-0123456789012345"));
}
