// Several berthd on one real PostgreSQL 15 (the `postgres` fixture; each test its own database) and the real
// engine: any instance streams any run live, caps hold over all of them, a killed instance's runs are adopted
// by another without losing or doubling an event, and a database outage is ridden out without a restart.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
#include "fake_anthropic.hpp"
#include "fake_chat.hpp"
#include "pg_scratch.hpp"
#include "run_helpers.hpp"
#include "worker_watch.hpp"

using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
json echo(const std::string& user, int n, int delay_ms) {
  return {{"user", user}, {"message", words(n)}, {"options", {{"delay_ms", delay_ms}}}};
}

void check_whole(api_client& api, const std::string& id, int n) {
  auto evs = stored_events(api, id);
  CHECK(spelled(evs) == words(n));
  CHECK(ids_contiguous(evs));
  CHECK(count_type(evs, "started") == 1);
  CHECK(count_type(evs, "done") == 1);
}
}  // namespace

TEST_CASE("two instances on one PostgreSQL: a run followed by one streams live from the other - resumes there after a cut - one login for both",
          "[cluster]") {
  scratch_database db;
  berthd_process a({{"BERTH_DATABASE_URL", db.url()}});
  berthd_process b({{"BERTH_DATABASE_URL", db.url()}});
  CHECK(a.instance() == b.instance());  // the first to start named the deployment
  api_client on_a(a.port(), test_key), on_b(b.port(), test_key);
  auto id = on_a.start_run(echo("u", 24, 150));
  // Whichever instance claimed the run, stream it from the other one: its events reach it through the store
  // and NOTIFY only.
  std::string node;
  REQUIRE(eventually([&] {
    auto run = on_a.get("/api/v1/runs/" + id).json();
    node = run["node"].is_string() ? run["node"].get<std::string>() : "";
    return !node.empty();
  }));
  api_client& away = node == on_a.get("/health").json()["node"] ? on_b : on_a;
  CHECK(away.get("/health").json()["node"] != node);
  std::vector<sse_event> first;
  std::string status_at_cut;
  away.stream("GET", "/api/v1/runs/" + id + "/events", "", {}, [&](const sse_event& e) {
    first.push_back(e);
    if (count_type(first, "text") < 6) return true;
    status_at_cut = away.get("/api/v1/runs/" + id).json()["status"];
    return false;
  });
  CHECK(status_at_cut == "running");  // seen while the other instance's worker was still producing it
  REQUIRE(!first.empty());
  auto rest = away.stream("GET", "/api/v1/runs/" + id + "/events", "", {{"Last-Event-ID", std::to_string(first.back().id)}});
  auto all = first;
  all.insert(all.end(), rest.events.begin(), rest.events.end());
  CHECK(spelled(all) == words(24));
  CHECK(ids_contiguous(all));
  CHECK(count_type(all, "done") == 1);
  CHECK(away.get("/api/v1/runs/" + id).json()["status"] == "succeeded");

  // A dashboard login made on A is good on B (behind a load balancer either may answer).
  auto cookie = on_a.dashboard_login(test_key);
  REQUIRE(!cookie.empty());
  CHECK(on_b.get("/dashboard/api/overview", {{"Cookie", cookie}}).status == 200);
  CHECK(on_b.get("/dashboard/api/overview", {{"Cookie", "berth_session=0000"}}).status == 401);
  CHECK(no_workers_left(a.instance()));
}

TEST_CASE("two instances with BERTH_MAX_CONCURRENT=2: never more than two workers alive across both - all succeed",
          "[cluster]") {
  scratch_database db;
  berthd_process::env_list env = {{"BERTH_DATABASE_URL", db.url()}, {"BERTH_MAX_CONCURRENT", "2"}, {"BERTH_MAX_PER_USER", "8"}};
  berthd_process a(env), b(env);
  api_client on_a(a.port(), test_key), on_b(b.port(), test_key);
  worker_watch workers(a.instance());  // both instances share one instance name, so one engine stream sees all
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back((i % 2 ? on_b : on_a).start_run(echo("u" + std::to_string(i), 6, 100)));
  for (const auto& id : ids) CHECK(on_a.wait_done(id)["status"] == "succeeded");
  CHECK(workers.finish_after(6));
  CHECK(workers.started() == 6);
  CHECK(workers.peak() == 2);
  for (const auto& id : ids) check_whole(on_b, id, 6);
}

TEST_CASE("kill -9 of the instance following a run: the other adopts it within the lease - every event exactly once - the queue runs there",
          "[cluster]") {
  scratch_database db;
  berthd_process::env_list env = {{"BERTH_DATABASE_URL", db.url()}, {"BERTH_MAX_CONCURRENT", "1"}, {"BERTH_LEASE_S", "3"}};
  berthd_process a(env), b(env);
  api_client on_a(a.port(), test_key), on_b(b.port(), test_key);
  std::string streaming, queued;
  int seen = 0;
  on_a.stream("POST", "/api/v1/runs", echo("u", 30, 300).dump(), {}, [&](const sse_event& e) {
    if (streaming.empty()) streaming = e.json()["run"];
    if (e.type == "text" && ++seen == 5) {
      queued = on_a.start_run(echo("v", 6, 50));  // waits behind the first (cap 1 over both instances)
      return false;
    }
    return true;
  });
  REQUIRE(!queued.empty());
  CHECK(on_b.get("/api/v1/runs/" + queued).json()["status"] == "queued");
  // Either instance may have claimed the run (a queued run is announced to all): kill the one following it.
  auto run = on_b.get("/api/v1/runs/" + streaming).json();
  REQUIRE(run["status"] == "running");
  const bool a_follows = run["node"] == on_a.get("/health").json()["node"];
  REQUIRE((a_follows || run["node"] == on_b.get("/health").json()["node"]));
  berthd_process& owner = a_follows ? a : b;
  berthd_process& other = a_follows ? b : a;
  api_client on_other(other.port(), test_key);
  const auto killed_at = std::chrono::steady_clock::now();
  owner.kill9();
  CHECK(on_other.wait_done(streaming)["status"] == "succeeded");
  const auto adopted_in = std::chrono::steady_clock::now() - killed_at;
  CHECK(on_other.wait_done(queued)["status"] == "succeeded");
  check_whole(on_other, streaming, 30);
  check_whole(on_other, queued, 6);
  CHECK(other.log().find("adopting an active run nobody follows") != std::string::npos);
  CHECK(on_other.get("/api/v1/runs/" + streaming).json()["node"] == on_other.get("/health").json()["node"]);
  // The run had ~25 words (7.5 s) left; adoption waits for the 3 s lease and one heartbeat tick.
  CHECK(adopted_in < 20s);
  CHECK(no_workers_left(other.instance()));
}

TEST_CASE("a callback owed by a run is sent once though two instances run the outbox", "[cluster]") {
  scratch_database db;
  fake_chat fake;
  berthd_process::env_list env = {{"BERTH_DATABASE_URL", db.url()}, {"BERTH_CALLBACK_ALLOW", "http://127.0.0.1:*"}};
  berthd_process a(env), b(env);
  api_client on_a(a.port(), test_key);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(on_a.start_run({{"user", "cb" + std::to_string(i)}, {"message", "hello"}, {"callback_url", fake.base() + "/hook"}}));
  for (const auto& id : ids) CHECK(on_a.wait_done(id)["status"] == "succeeded");
  REQUIRE(fake.wait_for([](const auto& r) { return r.size() >= 4; }));
  // Both outboxes poll; had either sent a delivery the other had claimed, a fifth request would follow.
  api_client on_b(b.port(), test_key);
  CHECK(eventually([&] {
    auto list = on_b.get("/api/v1/deliveries?state=delivered&limit=50").json();
    return list.contains("deliveries") && list["deliveries"].size() == ids.size();
  }));
  std::this_thread::sleep_for(2s);  // a window for a duplicate to show up (not synchronisation: a duplicate is what is looked for)
  CHECK(fake.requests_to("/hook").size() == 4);
}

TEST_CASE("database outage drill: PostgreSQL stopped for 10 s mid-run - berthd stays up and not ready - the run completes after",
          "[cluster]") {
  pg_server pg;
  berthd_process d({{"BERTH_DATABASE_URL", pg.url()}});
  api_client api(d.port(), test_key);
  const pid_t pid = d.pid();
  std::string id;
  int seen = 0;
  api.stream("POST", "/api/v1/runs", echo("u", 60, 250).dump(), {}, [&](const sse_event& e) {
    if (id.empty()) id = e.json()["run"];
    return !(e.type == "text" && ++seen == 4);
  });
  REQUIRE(!id.empty());
  pg.stop();
  CHECK(eventually([&] { return api.get("/ready").status == 503; }, 10s));
  CHECK(api.get("/health").status == 200);
  std::this_thread::sleep_for(10s);  // the outage itself
  pg.start();
  const bool ready = eventually([&] {
    try {
      return api.get("/ready").status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }, 30s);
  if (!ready) FAIL_CHECK("not ready after the outage; berthd's log ends:\n" + d.log().substr(d.log().size() > 6000 ? d.log().size() - 6000 : 0));
  CHECK(api.wait_done(id)["status"] == "succeeded");
  check_whole(api, id, 60);
  CHECK(d.pid() == pid);
  CHECK(d.log().find("berthd failed") == std::string::npos);
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("an unreachable database at start is a clear error", "[cluster]") {
  REQUIRE_THROWS_WITH(berthd_process({{"BERTH_DATABASE_URL", "postgresql://berth@127.0.0.1:1/berth"}}),
                      Catch::Contains("cannot connect to PostgreSQL at postgresql://berth@127.0.0.1:1/berth"));
  REQUIRE_THROWS_WITH(berthd_process({{"BERTH_DATABASE_URL", "postgresql://berth:hunter2@127.0.0.1:1/berth"}}),
                      !Catch::Contains("hunter2"));
}

TEST_CASE("berthd --migrate-from-sqlite moves a history into PostgreSQL - a berthd there serves it", "[cluster]") {
  temp_dir data;
  std::string id;
  {
    berthd_process sqlite_berthd({}, data.path);
    api_client api(sqlite_berthd.port(), test_key);
    id = api.start_run(echo("u", 5, 10));
    CHECK(api.wait_done(id)["status"] == "succeeded");
  }  // stopped: the data dir is free again
  scratch_database db;
  const std::string cmd = "BERTH_DATABASE_URL='" + db.url() + "' " + BERTHD_PATH + " --migrate-from-sqlite " + data.path +
                          "/berth.db > " + data.path + "/migrate.out 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  CHECK(std::system(cmd.c_str()) == 0);  // again: idempotent
  berthd_process pg_berthd({{"BERTH_DATABASE_URL", db.url()}});
  api_client api(pg_berthd.port(), test_key);
  CHECK(api.get("/api/v1/runs/" + id).json()["status"] == "succeeded");
  check_whole(api, id, 5);
  // Refused clearly without a database to copy into.
  CHECK(std::system((std::string("env -u BERTH_DATABASE_URL ") + BERTHD_PATH + " --migrate-from-sqlite " + data.path +
                     "/berth.db >/dev/null 2>&1").c_str()) != 0);
}

TEST_CASE("BERTH_STORAGE=postgres: a skill uploaded through one instance is there for a new instance with an empty data dir - and in its runs",
          "[cluster]") {
  scratch_database db;
  const std::string secret = "sk-ant-test-storage-51c2";
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", secret}}};
  auto instance = [&] {
    return berthd_process({{"BERTH_DATABASE_URL", db.url()}, {"BERTH_STORAGE", "postgres"}, {"BERTH_ENGINES", "claude"},
                           {"BERTH_DEFAULT_ENGINE", "claude"}, {"ANTHROPIC_API_KEY", secret}, {"ANTHROPIC_BASE_URL", fake.base_url()}});
  };
  const std::string skill = R"({"files": {"SKILL.md": "---\nname: kept\ndescription: PG-KEPT-SKILL-6620 survives restarts\n---\nbody\n",
                                          "data.bin": "\u0000\u0001binary\u0000"}})";
  {
    auto first = instance();
    api_client api(first.port(), test_key);
    REQUIRE(api.put("/api/v1/users/keeper/skills/kept", skill).status == 200);
  }  // gone, and its data dir with it
  auto second = instance();
  api_client api(second.port(), test_key);
  auto listed = api.get("/api/v1/users/keeper/skills").json();
  REQUIRE(listed["skills"].size() == 1);
  CHECK(listed["skills"][0]["name"] == "kept");
  auto got = api.get("/api/v1/users/keeper/skills/kept").json();
  CHECK(got["files"]["data.bin"] == std::string("\0\1binary\0", 9));  // bytes kept as they were
  auto id = api.start_run({{"user", "keeper"}, {"message", "@@text:2"}});
  CHECK(api.wait_done(id)["status"] == "succeeded");
  auto requests = fake.message_requests();
  REQUIRE(!requests.empty());
  CHECK(requests[0]["body"].dump().find("PG-KEPT-SKILL-6620") != std::string::npos);
  remove_user_volumes("keeper");
}
