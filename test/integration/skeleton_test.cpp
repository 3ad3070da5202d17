// The walking skeleton against the real dockerd and real sockets: a run streams over SSE as the worker
// produces it, the store replays it identically, Last-Event-ID resumes exactly, bad requests get clear
// JSON errors, history survives a restart, and no worker container is left behind.
#include <catch2/catch.hpp>

#include <chrono>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"

using namespace berth::test;
using nlohmann::json;

TEST_CASE("an echo run streams its words over SSE as they are produced", "[integration]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  auto body = json{{"user", "alice"}, {"message", "one two three four five six"}, {"options", {{"delay_ms", 300}}}};
  auto live = api.stream("POST", "/api/v1/runs", body.dump());
  REQUIRE(live.status == 200);
  CHECK(live.saw_connected);
  CHECK(live.headers.find("X-Accel-Buffering")->second == "no");
  REQUIRE(!live.events.empty());

  // ids are 1, 2, 3, … without gaps, and every event names its run
  std::string run = live.events.front().json()["run"];
  for (std::size_t i = 0; i < live.events.size(); ++i) {
    CHECK(live.events[i].id == static_cast<long long>(i + 1));
    CHECK(live.events[i].json()["run"] == run);
  }
  std::vector<sse_event> texts;
  std::string spelled;
  for (const auto& e : live.events)
    if (e.type == "text") {
      texts.push_back(e);
      spelled += e.json()["text"].get<std::string>();
    }
  REQUIRE(texts.size() == 6);
  CHECK(spelled == "one two three four five six");
  const auto& done = live.events.back();
  REQUIRE(done.type == "done");
  CHECK(done.json()["status"] == "succeeded");
  CHECK(done.json()["exit_code"] == 0);
  // It streams rather than buffers: the first word arrived well before the end.
  CHECK(done.at - texts.front().at > std::chrono::milliseconds(1000));

  SECTION("the store replays the same events, byte for byte") {
    auto replay = api.stream("GET", "/api/v1/runs/" + run + "/events");
    REQUIRE(replay.events.size() == live.events.size());
    for (std::size_t i = 0; i < replay.events.size(); ++i) {
      CHECK(replay.events[i].id == live.events[i].id);
      CHECK(replay.events[i].type == live.events[i].type);
      CHECK(replay.events[i].data == live.events[i].data);
    }
  }
  SECTION("Last-Event-ID and ?after= resume right after that event") {
    auto resumed = api.stream("GET", "/api/v1/runs/" + run + "/events", "", {{"Last-Event-ID", "4"}});
    REQUIRE(resumed.events.size() == live.events.size() - 4);
    CHECK(resumed.events.front().id == 5);
    CHECK(resumed.events.front().data == live.events[4].data);
    auto after = api.stream("GET", "/api/v1/runs/" + run + "/events?after=7");
    REQUIRE(!after.events.empty());
    CHECK(after.events.front().id == 8);
  }
  SECTION("the run and the list show it") {
    auto r = api.get("/api/v1/runs/" + run);
    REQUIRE(r.status == 200);
    CHECK(r.json()["status"] == "succeeded");
    CHECK(r.json()["user"] == "alice");
    CHECK(r.json()["exit_code"] == 0);
    CHECK(r.json()["finished_at"].is_string());
    auto list = api.get("/api/v1/runs?user=alice&limit=10");
    REQUIRE(list.status == 200);
    CHECK(list.json()["runs"][0]["id"] == run);
  }
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("a run without Accept: text/event-stream is accepted with 202 and Location", "[integration]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  auto r = api.post("/webhook", json{{"user", "bob"}, {"message", "hi"}}.dump(), {{"Authorization", "Bearer " + test_key}});
  REQUIRE(r.status == 202);
  std::string id = r.json()["id"];
  CHECK(r.header("Location") == "/api/v1/runs/" + id);
  CHECK(api.wait_done(id)["status"] == "succeeded");
}

TEST_CASE("bad requests get JSON errors and start nothing", "[integration]") {
  berthd_process d;
  api_client anon(d.port());
  api_client api(d.port(), test_key);
  auto good = json{{"user", "u"}, {"message", "m"}}.dump();

  auto expect = [](const http_result& r, int status, const std::string& code) {
    CHECK(r.status == status);
    auto j = r.json();
    REQUIRE(j.is_object());
    CHECK(j["error"]["code"] == code);
    CHECK(j["error"]["message"].is_string());
  };
  expect(anon.post("/api/v1/runs", good), 401, "unauthorized");
  expect(api_client(d.port(), "wrong-key-0123456789").post("/api/v1/runs", good), 401, "unauthorized");
  expect(anon.get("/api/v1/runs"), 401, "unauthorized");
  expect(api.post("/api/v1/runs", "{not json"), 400, "invalid_json");
  expect(api.post("/api/v1/runs", R"({"user":"u","message":"m","surprise":1})"), 400, "unknown_field");
  expect(api.post("/api/v1/runs", R"({"user":"no spaces","message":"m"})"), 400, "invalid_field");
  expect(api.post("/api/v1/runs", R"({"user":"u","message":42})"), 400, "invalid_field");
  expect(api.post("/api/v1/runs", good, {{"Content-Type", "text/plain"}}), 415, "unsupported_media_type");
  expect(api.post("/api/v1/runs", std::string(2 << 20, 'x')), 413, "body_too_large");
  expect(api.get("/api/v1/runs/01ABCDEFGHJKMNPQRSTVWXYZ01"), 404, "not_found");
  expect(api.get("/api/v1/runs?limit=0"), 400, "invalid_query");
  expect(api.get("/api/v1/runs/01ABCDEFGHJKMNPQRSTVWXYZ01/events", {{"Last-Event-ID", "x"}}), 404, "not_found");
  CHECK(api.get("/api/v1/runs").json()["runs"].empty());
}

TEST_CASE("a worker that exits non-zero ends failed with its exit code - garbage output is kept as logs", "[integration]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  auto failed = api.start_run({{"user", "u"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "fail"}}}});
  auto done = api.wait_done(failed);
  CHECK(done["status"] == "failed");
  CHECK(done["exit_code"] == 3);
  CHECK(done["reason"] == "engine: scripted failure");

  auto garbage = api.start_run({{"user", "u"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "garbage"}}}});
  api.wait_done(garbage);
  auto s = api.stream("GET", "/api/v1/runs/" + garbage + "/events");
  std::vector<std::string> logs;
  for (const auto& e : s.events)
    if (e.type == "log") logs.push_back(e.json()["line"]);
  CHECK(std::find(logs.begin(), logs.end(), "this is not json") != logs.end());
  CHECK(std::find(logs.begin(), logs.end(), "{\"type\": \"mystery\"}") != logs.end());
  CHECK(std::find(logs.begin(), logs.end(), "a diagnostic line on stderr") != logs.end());
  CHECK(std::find(logs.begin(), logs.end(), "unterminated tail") != logs.end());
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("history survives a berthd restart", "[integration]") {
  berthd_process d;
  std::string id;
  {
    api_client api(d.port(), test_key);
    id = api.start_run({{"user", "carol"}, {"message", "remember me"}});
    CHECK(api.wait_done(id)["status"] == "succeeded");
  }
  d.terminate();
  d.restart();
  api_client api(d.port(), test_key);
  auto r = api.get("/api/v1/runs/" + id);
  REQUIRE(r.status == 200);
  CHECK(r.json()["status"] == "succeeded");
  CHECK(r.json()["message"] == "remember me");
  auto s = api.stream("GET", "/api/v1/runs/" + id + "/events");
  REQUIRE(!s.events.empty());
  CHECK(s.events.back().type == "done");
}
