// Hostile input against one real berthd: what an agent can write to its own stdout, and what any client can
// send before it has a key. Each case failed (or hung, or crashed berthd) before its fix.
#include <catch2/catch.hpp>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "raw_http.hpp"
#include "run_helpers.hpp"

using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
json raw_line(const std::string& line) {
  return {{"user", "u"}, {"message", line}, {"engine", "script"}, {"options", {{"scenario", "raw"}}}};
}
}  // namespace

TEST_CASE("a worker line nested 100000 deep is a log note - berthd keeps serving", "[integration][hostile]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  const int depth = 100000;
  auto id = api.start_run(raw_line(R"({"type":"text","text":"x","extra":)" + std::string(depth, '[') +
                                   std::string(depth, ']') + "}"));
  auto done = api.wait_done(id);
  CHECK(done["status"] == "succeeded");
  auto events = stored_events(api, id);
  bool noted = false;
  for (const auto& e : events)
    if (e.type == "log" && e.json().value("problem", "").find("nested deeper") != std::string::npos) noted = true;
  CHECK(noted);
  CHECK(ids_contiguous(events));
  CHECK(api.get("/health").status == 200);
  // After a restart nothing re-reads the line into a crash either.
  d.kill9();
  d.restart();
  CHECK(api_client(d.port(), test_key).get("/api/v1/runs/" + id).json()["status"] == "succeeded");
}

TEST_CASE("a key written with JSON escapes is redacted after decoding", "[integration][hostile]") {
  const std::string key = "sk-ant-api03-hostile-0123456789abcdef";
  berthd_process d({{"ANTHROPIC_API_KEY", key}});
  api_client api(d.port(), test_key);
  auto id = api.start_run(raw_line(R"({"type":"text","text":"my key is \u0073k-ant-api03-hostile-0123456789abcdef"})"));
  CHECK(api.wait_done(id)["status"] == "succeeded");
  auto stream = api.stream("GET", "/api/v1/runs/" + id + "/events");
  CHECK(stream.raw.find(key) == std::string::npos);
  CHECK(spelled(stream.events) == "my key is [REDACTED]");
}

TEST_CASE("options nested 60000 deep are a 400 - berthd keeps serving", "[integration][hostile]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  std::string body = R"({"user":"u","message":"m","options":{"x":)" + std::string(60000, '[') + std::string(60000, ']') + "}}";
  auto r = api.post("/api/v1/runs", body, {{"Content-Type", "application/json"}});
  CHECK(r.status == 400);
  CHECK(r.json()["error"]["code"] == "invalid_json");
  CHECK(api.get("/health").status == 200);
}

TEST_CASE("without a key the body is never read - the refusal comes from the headers", "[integration][hostile]") {
  berthd_process d;
  raw_connection c(d.port());
  // Announces 900 KB and sends none of it: the answer must not wait for the body.
  c.send("POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n");
  bool closed = false;
  auto raw = c.read_all(5s, &closed);
  CHECK(status_of(raw) == 401);
  CHECK(raw.find("unauthorized") != std::string::npos);
  // Paths under /api/ that do not exist answer 401 too, so nothing about the API shows without a key.
  api_client anon(d.port());
  CHECK(anon.get("/api/v1/nothing-here").status == 401);
  CHECK(api_client(d.port(), test_key).get("/api/v1/nothing-here").status == 404);
}

TEST_CASE("malformed requests get a 400 - HEAD on a stream gets headers only", "[integration][hostile]") {
  berthd_process d;
  {
    raw_connection c(d.port());
    c.send("GET /health HTTP/1.1\r\nHost x\r\n\r\n");  // a header line without its colon
    auto raw = c.read_all(5s);
    CHECK(status_of(raw) == 400);
    CHECK(raw.find("bad_request") != std::string::npos);
  }
  {
    raw_connection c(d.port());
    c.send("G@T /health HTTP/1.1\r\n\r\n");
    CHECK(status_of(c.read_all(5s)) == 400);
  }
  api_client api(d.port(), test_key);
  auto id = api.start_run({{"user", "u"}, {"message", "a b"}});
  api.wait_done(id);
  raw_connection c(d.port());
  c.send("HEAD /api/v1/runs/" + id + "/events HTTP/1.1\r\nHost: x\r\nX-API-Key: " + test_key + "\r\n\r\n");
  bool closed = false;
  auto raw = c.read_all(5s, &closed);
  CHECK(status_of(raw) == 200);
  CHECK(raw.find("text/event-stream") != std::string::npos);
  CHECK(raw.substr(raw.find("\r\n\r\n") + 4).empty());
  CHECK(closed);
}

TEST_CASE("a resume at or past a finished run's last event ends at once", "[integration][hostile]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  auto id = api.start_run({{"user", "u"}, {"message", "a b c"}});
  api.wait_done(id);
  auto last = api.get("/api/v1/runs/" + id).json()["events"].get<long long>();
  for (auto after : {last, last + 100}) {
    raw_connection c(d.port());
    c.send("GET /api/v1/runs/" + id + "/events HTTP/1.1\r\nHost: x\r\nX-API-Key: " + test_key +
           "\r\nLast-Event-ID: " + std::to_string(after) + "\r\n\r\n");
    bool closed = false;
    auto raw = c.read_all(5s, &closed);  // keepalives come every 15 s: closing within 5 s means it ended
    CHECK(status_of(raw) == 200);
    CHECK(closed);
    CHECK(raw.find("event:") == std::string::npos);
  }
}
