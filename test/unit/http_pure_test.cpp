#include <catch2/catch.hpp>

#include "server/http/auth.hpp"
#include "server/http/router.hpp"
#include "server/http/sse.hpp"

using namespace berth::http;

TEST_CASE("sse: an event is id - event - data - blank line") {
  CHECK(sse_frame(3, "text", R"({"run":"R","text":"hi"})") == "id: 3\nevent: text\ndata: {\"run\":\"R\",\"text\":\"hi\"}\n\n");
}

TEST_CASE("sse: a multi-line payload becomes several data lines") {
  CHECK(sse_frame(1, "log", "a\nb\r\nc") == "id: 1\nevent: log\ndata: a\ndata: b\ndata: c\n\n");
  CHECK(sse_frame(2, "x", "") == "id: 2\nevent: x\ndata: \n\n");
}

TEST_CASE("sse: Last-Event-ID parsing") {
  CHECK(parse_last_event_id("17") == 17);
  CHECK(parse_last_event_id(" 0 ") == 0);
  CHECK_FALSE(parse_last_event_id("-1"));
  CHECK_FALSE(parse_last_event_id("abc"));
  CHECK_FALSE(parse_last_event_id(""));
}

TEST_CASE("router: API paths - methods and parameters") {
  auto m = match_route("GET", "/api/v1/runs/01ABC/events?after=4");
  CHECK(m.r == route::run_events);
  CHECK(m.param == "01ABC");
  CHECK(m.query.at("after") == "4");
  CHECK(match_route("POST", "/api/v1/runs").r == route::runs_create);
  CHECK(match_route("POST", "/webhook").r == route::runs_create);
  CHECK(match_route("GET", "/api/v1/runs?user=a%20b").query.at("user") == "a b");
  CHECK(match_route("DELETE", "/api/v1/runs/X").r == route::run_cancel);
  CHECK(match_route("PUT", "/api/v1/runs").r == route::method_not_allowed);
  CHECK(match_route("GET", "/api/v1/runs/X/other").r == route::not_found);
  CHECK(match_route("GET", "/nope").r == route::not_found);
  CHECK(match_route("GET", "/health").r == route::health);
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
}
