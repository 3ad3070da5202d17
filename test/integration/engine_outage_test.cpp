// The Docker engine goes away while berthd runs: berthd keeps serving, says so, queues new work, and picks
// everything up when the engine is back. Uses a private dockerd so the shared engine is never stopped.
#include <catch2/catch.hpp>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
#include "private_engine.hpp"
#include "run_helpers.hpp"

using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
int occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string status_of(api_client& api, const std::string& id) {
  return api.get("/api/v1/runs/" + id).json().value("status", "");
}
}  // namespace

TEST_CASE("engine outage: berthd survives a dockerd stop - reports it - and serves new runs after", "[integration][outage]") {
  private_engine pe;
  berthd_process d({{"BERTH_DOCKER_HOST", pe.host()}});
  api_client api(d.port(), test_key);

  auto before = api.start_run({{"user", "u1"}, {"message", "before the outage"}});
  REQUIRE(api.wait_done(before)["status"] == "succeeded");
  auto hanging = api.start_run({{"user", "u2"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "silent"}}}});
  REQUIRE(eventually([&] { return status_of(api, hanging) == "running"; }, 20s));

  pe.stop();  // without live-restore the engine's containers die with it
  REQUIRE(eventually([&] { return api.get("/ready").status == 503; }, 15s));
  auto ready = api.get("/ready").json();
  CHECK(ready["docker"]["ok"] == false);
  CHECK_FALSE(ready["docker"]["error"].get<std::string>().empty());
  CHECK(api.get("/health").status == 200);
  CHECK(d.log().find("docker engine does not answer") != std::string::npos);

  // Work submitted during the outage is accepted and waits.
  auto during = api.start_run({{"user", "u3"}, {"message", "submitted during the outage"}});
  CHECK(status_of(api, during) == "queued");
  CHECK(api.get("/api/v1/runs/" + before).json()["status"] == "succeeded");  // history still served

  pe.start();
  REQUIRE(eventually([&] { return api.get("/ready").status == 200; }, 20s));
  CHECK(occurrences(d.log(), "docker engine answers") >= 2);  // at start and on recovery

  auto queued_done = api.wait_done(during);
  CHECK(queued_done["status"] == "succeeded");
  CHECK(spelled(stored_events(api, during)) == "submitted during the outage");
  // The run whose container died with the engine is finished with a reason, never left running.
  auto hung_done = api.wait_done(hanging);
  INFO(hung_done.dump());
  CHECK(hung_done["status"] != "succeeded");
  CHECK_FALSE(hung_done["reason"].get<std::string>().empty());

  auto after = api.start_run({{"user", "u1"}, {"message", "after the outage"}});
  CHECK(api.wait_done(after)["status"] == "succeeded");
  CHECK(eventually([&] { return worker_containers(d.instance(), pe.client()).empty(); }));
  WARN("the run cut by the outage ended: " << hung_done.dump());
}
