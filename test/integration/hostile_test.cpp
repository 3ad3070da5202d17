// Hostile input against one real berthd: what an agent can write to its own stdout, and what any client can
// send before it has a key. Each case failed (or hung, or crashed berthd) before its fix.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
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

TEST_CASE("a second berthd on the same data dir refuses to start", "[integration][hostile]") {
  berthd_process d;
  std::string out = d.data_dir() + "/second.out";
  std::string cmd = "env -i PATH=/usr/bin:/bin BERTH_API_KEYS=" + test_key + " BERTH_DATA_DIR=" + d.data_dir() +
                    " BERTH_LISTEN=127.0.0.1:0 BERTH_ENGINES=echo BERTH_DEFAULT_ENGINE=echo timeout 20 " BERTHD_PATH " >" +
                    out + " 2>&1";
  int rc = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(rc) == 1);  // 124 would mean it kept running beside the first
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("another berthd (pid " + std::to_string(d.pid()) + ")") != std::string::npos);
  CHECK(api_client(d.port(), test_key).get("/health").status == 200);
}

TEST_CASE("connections over the per-client cap get a 503 - a freed slot is usable again", "[integration][hostile]") {
  berthd_process d({{"BERTH_MAX_CONNECTIONS_PER_CLIENT", "4"}});
  std::vector<std::unique_ptr<raw_connection>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<raw_connection>(d.port()));
  {
    raw_connection over(d.port());
    bool closed = false;
    auto raw = over.read_all(5s, &closed);
    CHECK(status_of(raw) == 503);
    CHECK(raw.find("too_many_connections") != std::string::npos);
    CHECK(closed);
  }
  held.pop_back();
  CHECK(eventually([&] { return api_client(d.port(), test_key).get("/health").status == 200; }));
}

TEST_CASE("at the descriptor limit accept backs off - logs once - and serves again after", "[integration][hostile]") {
  if (sanitized_build) SKIP_SANITIZED("the sanitizer runtimes hold descriptors of their own: 96 is not berthd's limit then");
  berthd_process d;
  std::string cmd = "prlimit --pid " + std::to_string(d.pid()) + " --nofile=96:96";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto cpu_ticks = [&] {
    std::ifstream in("/proc/" + std::to_string(d.pid()) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(s.substr(s.rfind(')') + 2));
    std::string f;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14) utime = std::stol(f);
      if (i == 15) stime = std::stol(f);
    }
    return utime + stime;
  };
  std::vector<std::unique_ptr<raw_connection>> held;
  for (int i = 0; i < 150; ++i) held.push_back(std::make_unique<raw_connection>(d.port()));  // the backlog takes the rest
  CHECK(eventually([&] { return d.log().find("accept failed; backing off") != std::string::npos; }));
  auto t0 = cpu_ticks();
  auto w0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - w0 < 3s) std::this_thread::sleep_for(100ms);  // measuring, not syncing
  auto busy = cpu_ticks() - t0;  // clock ticks (100/s): a spinning accept loop burns ~300 in 3 s
  CHECK(busy < 60);
  std::size_t lines = 0;
  for (auto log = d.log(), needle = std::string("accept failed"); auto p = log.find(needle);) {
    if (p == std::string::npos) break;
    ++lines;
    log.erase(0, p + needle.size());
  }
  CHECK(lines <= 2);
  held.clear();
  CHECK(eventually([&] { return api_client(d.port(), test_key).get("/health").status == 200; }));
}

TEST_CASE("a dashboard run stream ends at logout", "[integration][hostile][dashboard]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  auto id = api.start_run({{"user", "u"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "silent"}}}});
  api_client anon(d.port());
  auto cookie = anon.dashboard_login(test_key);
  auto page = anon.get("/dashboard", {{"Cookie", cookie}});
  const std::string marker = "name=\"csrf-token\" content=\"";
  auto csrf = page.body.substr(page.body.find(marker) + marker.size(), 64);
  raw_connection c(d.port());
  c.send("GET /dashboard/api/runs/" + id + "/events HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + "\r\n\r\n");
  CHECK(eventually([&] { return c.read_all(200ms).find(": connected") != std::string::npos; }));
  auto out = anon.post("/dashboard/logout", "csrf=" + csrf,
                       {{"Cookie", cookie}, {"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(out.status == 303);
  bool closed = false;
  c.read_all(5s, &closed);  // keepalives every 15 s; the stream must end now, not at the run's end
  CHECK(closed);
  api.del("/api/v1/runs/" + id);
}

TEST_CASE("a store locked for 8 s mid-run wedges nothing - /ready says so meanwhile", "[integration][hostile]") {
  berthd_process d({{"BERTH_MAX_CONCURRENT", "1"}, {"BERTH_RECONCILE_S", "2"}});
  api_client api(d.port(), test_key);
  auto first = api.start_run({{"user", "u"}, {"message", words(60)}, {"options", {{"delay_ms", 200}}}});
  CHECK(eventually([&] { return api.get("/api/v1/runs/" + first).json()["status"] == "running"; }));
  {
    SQLite::Database other(d.data_dir() + "/berth.db", SQLite::OPEN_READWRITE);
    other.setBusyTimeout(5000);  // berthd may hold the write lock for a moment itself
    other.exec("BEGIN EXCLUSIVE");  // as another process holding the write lock would
    CHECK(eventually([&] { return api.get("/ready").status == 503; }));
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < 8s) std::this_thread::sleep_for(100ms);  // the outage itself
    other.exec("ROLLBACK");
  }
  CHECK(eventually([&] { return api.get("/ready").status == 200; }));
  auto second = api.start_run({{"user", "v"}, {"message", "after the outage"}});
  CHECK(api.wait_done(second)["status"] == "succeeded");
  CHECK(api.wait_done(first)["status"] == "succeeded");
  CHECK(ids_contiguous(stored_events(api, first)));
}

TEST_CASE("wrong keys are rate limited per client - 429 with Retry-After - counted in /metrics", "[integration][hostile]") {
  berthd_process d({{"BERTH_AUTH_FAILURES_PER_CLIENT", "5"}, {"BERTH_TRUSTED_PROXIES", "127.0.0.1"}});
  api_client wrong(d.port(), "not-the-key-0123456789");
  for (int i = 0; i < 5; ++i) CHECK(wrong.get("/api/v1/runs").status == 401);
  auto refused = wrong.get("/api/v1/runs");
  CHECK(refused.status == 429);
  CHECK(std::stoi(refused.header("Retry-After")) > 0);
  CHECK(refused.json()["error"]["code"] == "too_many_failures");
  // The same address is refused even with the right key: its guesses are capped, not just answered differently.
  CHECK(api_client(d.port(), test_key).get("/api/v1/runs").status == 429);
  // Behind the trusted proxy (127.0.0.1 here) another client, named by X-Forwarded-For, is not locked out.
  CHECK(api_client(d.port(), test_key).get("/api/v1/runs", {{"X-Forwarded-For", "198.51.100.7"}}).status == 200);
  // Dashboard logins count too.
  api_client anon(d.port());
  auto login = anon.post("/dashboard/login", "key=wrong", {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(login.status == 429);
  auto metrics = api_client(d.port(), test_key).get("/metrics", {{"X-Forwarded-For", "198.51.100.7"}}).body;
  CHECK(metrics.find("berth_auth_failures_total 5") != std::string::npos);
  CHECK(metrics.find("berth_auth_refused_total 3") != std::string::npos);
}

TEST_CASE("cancelling an active run that no thread follows stops it", "[integration][hostile]") {
  // A store outage makes the run's thread give up; with the reconciler far away nothing follows the run.
  berthd_process d({{"BERTH_RECONCILE_S", "3600"}});
  api_client api(d.port(), test_key);
  auto id = api.start_run({{"user", "u"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "silent"}}}});
  CHECK(eventually([&] { return api.get("/api/v1/runs/" + id).json()["status"] == "running"; }));
  {
    SQLite::Database other(d.data_dir() + "/berth.db", SQLite::OPEN_READWRITE);
    other.setBusyTimeout(5000);  // berthd may hold the write lock for a moment itself
    other.exec("BEGIN EXCLUSIVE");
    // The run's next write (its idle deadline is far; a cancel request makes it write) fails after 5 s busy.
    CHECK(api.del("/api/v1/runs/" + id).status == 202);
    CHECK(eventually([&] { return d.log().find("the reconciler will adopt the run again") != std::string::npos; }, 20s));
    other.exec("ROLLBACK");
  }
  // The cancel asked before the thread let go still holds: when the run is followed again (at once after the
  // database answers, or by this second request) it ends cancelled, not as a worker killed from outside.
  const auto again = api.del("/api/v1/runs/" + id).status;
  CHECK((again == 202 || again == 200));
  CHECK(api.wait_done(id)["status"] == "cancelled");
}

TEST_CASE("a key scoped to some users sees and acts for them only - API and dashboard", "[integration][hostile]") {
  const std::string alice_key = "alice-only-key-0123456789";
  berthd_process d({{"BERTH_API_KEYS", test_key + "," + alice_key + "=alice|team-*"}});
  api_client admin(d.port(), test_key), alice(d.port(), alice_key);
  auto bobs = admin.start_run({{"user", "bob"}, {"message", "a b"}});
  auto mine = alice.start_run({{"user", "team-red"}, {"message", "c d"}});
  admin.wait_done(bobs);
  alice.wait_done(mine);
  // Another user's run does not exist for this key: 404 everywhere, never in a list.
  CHECK(alice.get("/api/v1/runs/" + bobs).status == 404);
  CHECK(alice.get("/api/v1/runs/" + bobs + "/events").status == 404);
  CHECK(alice.del("/api/v1/runs/" + bobs).status == 404);
  auto list = alice.get("/api/v1/runs").json()["runs"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["id"] == mine);
  CHECK(alice.get("/api/v1/runs?user=bob").status == 403);
  CHECK(alice.get("/api/v1/sessions?user=bob").status == 403);
  CHECK(alice.put("/api/v1/users/bob/instructions", R"({"instructions":"x"})").status == 403);
  CHECK(alice.get("/metrics").status == 403);
  auto as_bob = alice.post("/api/v1/runs", R"({"user":"bob","message":"m"})", {{"Content-Type", "application/json"}});
  CHECK(as_bob.status == 403);
  CHECK(as_bob.json()["error"]["code"] == "forbidden_user");
  CHECK(admin.get("/api/v1/runs").json()["runs"].size() == 2);  // the unscoped key sees everyone
  // The dashboard, logged in with the scoped key, shows the same.
  api_client anon(d.port());
  auto cookie = anon.dashboard_login(alice_key);
  CHECK(anon.get("/dashboard/api/runs/" + bobs, {{"Cookie", cookie}}).status == 404);
  auto overview = anon.get("/dashboard/api/overview", {{"Cookie", cookie}}).json();
  CHECK(overview["recent"].size() == 1);
  CHECK(overview["counts"]["succeeded"] == 1);
  CHECK(anon.get("/dashboard/api/runs", {{"Cookie", cookie}}).json()["runs"].size() == 1);
}

TEST_CASE("a workspace over its limit ends the run failed - idle workspaces expire", "[integration][hostile]") {
  berthd_process d({{"BERTH_WORKSPACE_MAX_BYTES", "16m"}, {"BERTH_WORKSPACE_CHECK_S", "1"}, {"BERTH_WORKSPACE_IDLE_S", "3"}});
  api_client api(d.port(), test_key);
  auto id = api.start_run({{"user", "filler"}, {"message", "x"}, {"engine", "script"},
                           {"options", {{"scenario", "fill"}, {"count", 40}}}});
  auto done = api.wait_done(id);  // the scenario would sleep for an hour after writing
  CHECK(done["status"] == "failed");
  CHECK(done["reason"].get<std::string>().find("BERTH_WORKSPACE_MAX_BYTES") != std::string::npos);
  // No run of that user for 3 s, nothing mounting the volume: the guard removes it.
  CHECK(eventually([&] { return user_volumes("filler").empty(); }, 20s));
  CHECK(eventually([&] { return d.log().find("removed an idle workspace") != std::string::npos; }));
}
