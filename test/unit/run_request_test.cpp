#include <catch2/catch.hpp>

#include "server/runs/run_request.hpp"

using namespace berth::runs;

namespace {
request_limits limits() { return {{"echo", "claude"}, "echo", 100, 50}; }

request_error error_of(const std::string& body) {
  try {
    parse_run_request(body, limits());
  } catch (const request_error& e) {
    return e;
  }
  FAIL("no error for " << body);
  return {refusal::invalid, "", ""};
}
}  // namespace

TEST_CASE("run request: a valid request with defaults") {
  auto r = parse_run_request(R"({"user":"alice.b-1","message":"hi there"})", limits());
  CHECK(r.user == "alice.b-1");
  CHECK(r.engine == "echo");
  CHECK(r.timeout_s == 0);
  auto r2 = parse_run_request(R"({"user":"u","message":"m","engine":"claude","session":"s:1","options":{"delay_ms":300,"timeout_s":4}})", limits());
  CHECK(r2.engine == "claude");
  CHECK(r2.timeout_s == 4);
  CHECK(r2.options["delay_ms"] == 300);
}

TEST_CASE("run request: every bad input is a clear 4xx") {
  CHECK(error_of("{nope").code == "invalid_json");
  CHECK(error_of("[1]").code == "invalid_json");
  CHECK(error_of(R"({"message":"m"})").code == "missing_field");
  CHECK(error_of(R"({"user":"u"})").code == "missing_field");
  CHECK(error_of(R"({"user":"bad user","message":"m"})").code == "invalid_field");
  CHECK(error_of(R"({"user":"","message":"m"})").code == "invalid_field");
  CHECK(error_of(R"({"user":".","message":"m"})").code == "invalid_field");
  CHECK(error_of(R"({"user":"..","message":"m"})").code == "invalid_field");
  CHECK(error_of(R"({"user":"u","message":"m","options":{"permission_mode":"yolo"}})").code == "invalid_field");
  CHECK(error_of(R"({"user":7,"message":"m"})").code == "invalid_field");
  CHECK(error_of(R"({"user":"u","message":""})").code == "invalid_field");
  CHECK(error_of(R"({"user":"u","message":"m","extra":1})").code == "unknown_field");
  CHECK(error_of(R"({"user":"u","message":"m","engine":"shell"})").code == "invalid_field");
  CHECK(error_of(R"({"user":"u","message":"m","options":{"delay_ms":9000}})").code == "invalid_field");
  CHECK(error_of(R"({"user":"u","message":"m","options":{"timeout_s":101}})").code == "invalid_field");
  CHECK(error_of(R"({"user":"u","message":"m","options":{"rm":"-rf"}})").code == "unknown_field");
  CHECK(error_of(R"({"user":"u","message":"m","options":[]})").code == "invalid_field");
  CHECK(error_of(R"({"user":"u","message":"m","session":"a b"})").code == "invalid_field");
  std::string big = R"({"user":"u","message":")" + std::string(max_message_bytes + 1, 'a') + "\"}";
  CHECK(error_of(big).kind == refusal::too_large);
  CHECK(error_of(std::string(max_body_bytes + 1, ' ')).kind == refusal::too_large);
  CHECK(error_of(R"({"user":")" + std::string(65, 'a') + R"(","message":"m"})").code == "invalid_field");
}

TEST_CASE("run request: options nested 60000 deep are refused before anything copies them") {
  std::string deep = R"({"user":"u","message":"m","options":{"x":)" + std::string(60000, '[') + std::string(60000, ']') + "}}";
  auto e = error_of(deep);
  CHECK(e.kind == refusal::invalid);
  CHECK(e.code == "invalid_json");
  CHECK(std::string(e.what()).find("deeper than 64") != std::string::npos);
}
