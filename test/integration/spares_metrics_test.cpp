// Warm spares and /metrics against the real engine.
#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <sstream>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
#include "run_helpers.hpp"

using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
json echo(const std::string& user, const std::string& message) { return {{"user", user}, {"message", message}}; }

// The events of a run with run ids blanked, for comparing two runs' output.
std::vector<std::string> shape(const std::vector<sse_event>& evs) {
  std::vector<std::string> out;
  for (const auto& e : evs) {
    auto j = e.json();
    j.erase("run");
    out.push_back(e.type + " " + j.dump());
  }
  return out;
}

std::map<std::string, double> scrape(api_client& api, int* status = nullptr) {
  auto r = api.get("/metrics");
  if (status) *status = r.status;
  std::map<std::string, double> out;
  if (r.status != 200) return out;
  std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})?) ([-+]?[0-9.eE+-]+|\+Inf|NaN)$)");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    std::smatch m;
    INFO("line: " << line);
    REQUIRE(std::regex_match(line, m, sample));
    out[m[1]] = m[4] == "+Inf" ? 1e300 : std::stod(m[4]);
  }
  return out;
}
}  // namespace

TEST_CASE("spares: a user's next run takes their spare - exactly one run gets it - never another user", "[integration][spares]") {
  berthd_process d({{"BERTH_SPARES", "on"}, {"BERTH_MAX_PER_USER", "4"}});
  api_client api(d.port(), test_key);
  auto cold = api.start_run(echo("ann", "one two three"));
  REQUIRE(api.wait_done(cold)["status"] == "succeeded");
  auto spare = wait_for_spare(d.instance(), "ann");
  REQUIRE(!spare.empty());

  // Three runs at once: two of ann, one of ben.
  auto a1 = api.start_run(echo("ann", "one two three"));
  auto a2 = api.start_run(echo("ann", "one two three"));
  auto b1 = api.start_run(echo("ben", "one two three"));
  for (const auto& id : {a1, a2, b1}) CHECK(api.wait_done(id)["status"] == "succeeded");
  auto container = [&](const std::string& id) { return api.get("/api/v1/runs/" + id).json()["container_id"].get<std::string>(); };
  int holders = (container(a1) == spare) + (container(a2) == spare);
  CHECK(holders == 1);
  CHECK(container(b1) != spare);
  CHECK(std::set<std::string>{container(a1), container(a2), container(b1)}.size() == 3);

  SECTION("same output and isolation as a cold run") {
    auto warm_run = container(a1) == spare ? a1 : a2;
    CHECK(shape(stored_events(api, warm_run)) == shape(stored_events(api, cold)));
  }
}

TEST_CASE("spares: a spare is as hardened as any worker - mounts its user's workspace - and holds no task", "[integration][spares]") {
  berthd_process d({{"BERTH_SPARES", "on"}});
  api_client api(d.port(), test_key);
  api.wait_done(api.start_run(echo("cat", "hello")));
  auto spare = wait_for_spare(d.instance(), "cat");
  REQUIRE(!spare.empty());
  auto j = engine().inspect_json(spare);
  CHECK(j["HostConfig"]["CapDrop"] == json::array({"ALL"}));
  CHECK(j["HostConfig"]["ReadonlyRootfs"] == true);
  CHECK(j["Config"]["User"] == "1000:1000");
  CHECK(j["Config"]["Labels"].count("berth.run") == 0);
  bool workspace = false;
  for (const auto& m : j["Mounts"]) workspace = workspace || (m["Name"] == "berth-ws-" + d.instance() + "-cat" && m["Destination"] == "/workspace");
  CHECK(workspace);
  CHECK(j["Config"]["Env"].dump().find("hello") == std::string::npos);
}

TEST_CASE("spares expire - and stale ones are removed after a restart", "[integration][spares]") {
  SECTION("idle expiry") {
    berthd_process d({{"BERTH_SPARES", "on"}, {"BERTH_SPARE_IDLE_S", "2"}});
    api_client api(d.port(), test_key);
    api.wait_done(api.start_run(echo("dee", "x")));
    REQUIRE(!wait_for_spare(d.instance(), "dee").empty());
    CHECK(eventually([&] { return spares_of(d.instance(), "dee").empty(); }, 10s));
  }
  SECTION("kill -9 and restart") {
    berthd_process d({{"BERTH_SPARES", "on"}, {"BERTH_RECONCILE_S", "1"}});
    api_client api(d.port(), test_key);
    api.wait_done(api.start_run(echo("eve", "x")));
    auto stale = wait_for_spare(d.instance(), "eve");
    REQUIRE(!stale.empty());
    d.kill9();
    d.restart();
    CHECK(eventually([&] { return !engine().inspect(stale); }, 20s));
    api_client again(d.port(), test_key);
    CHECK(again.wait_done(again.start_run(echo("eve", "x")))["status"] == "succeeded");
  }
}

TEST_CASE("/metrics: Prometheus text - protected - counters move with runs", "[integration][metrics]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  int status = 0;
  api_client anon(d.port());
  scrape(anon, &status);
  CHECK(status == 401);
  auto before = scrape(api, &status);
  REQUIRE(status == 200);
  for (const char* k : {"berth_queue_depth", "berth_running_workers", "berth_sse_subscribers", "berth_spare_pool_size",
                        "berth_docker_api_errors_total", "berth_events_stored_total", "berth_run_duration_seconds_count",
                        "berth_container_start_seconds_count"})
    CHECK(before.count(k) == 1);
  auto id = api.start_run(echo("fay", "a b c"));
  api.wait_done(id);
  auto after = scrape(api);
  const std::string ok = "berth_runs_finished_total{status=\"succeeded\"}";
  CHECK(after[ok] == before[ok] + 1);
  CHECK(after["berth_events_stored_total"] >= before["berth_events_stored_total"] + 8);
  CHECK(after["berth_container_start_seconds_count"] == before["berth_container_start_seconds_count"] + 1);
  CHECK(after["berth_run_duration_seconds_count"] == before["berth_run_duration_seconds_count"] + 1);
}

TEST_CASE("/metrics on BERTH_METRICS_LISTEN needs no key - that listener serves nothing else", "[integration][metrics]") {
  berthd_process d({{"BERTH_METRICS_LISTEN", "127.0.0.1:0"}});
  std::smatch m;
  std::string log = d.log();
  REQUIRE(std::regex_search(log, m, std::regex(R"(metrics listening address=127\.0\.0\.1:(\d+))")));
  api_client metrics(std::stoi(m[1]));
  int status = 0;
  scrape(metrics, &status);
  CHECK(status == 200);
  CHECK(metrics.get("/api/v1/runs").status == 404);
  // Its docs say /metrics only: no liveness facts (instance id, Docker version, free disk) without a key.
  CHECK(metrics.get("/health").status == 404);
  CHECK(metrics.get("/ready").status == 404);
  CHECK(metrics.get("/dashboard/login").status == 404);
  CHECK(api_client(d.port()).get("/metrics").status == 401);
}
