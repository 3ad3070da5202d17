// The run lifecycle against the real engine: hardening, timeouts, cancel, concurrency caps, resource limits,
// output bounds, and restarts (graceful and kill -9) that lose and double nothing.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_fault_proxy.hpp"
#include "docker_helpers.hpp"
#include "run_helpers.hpp"
#include "worker_watch.hpp"

using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
json script(const std::string& scenario, json extra = json::object()) {
  json options = {{"scenario", scenario}};
  options.update(extra);
  return {{"user", "u"}, {"message", "x"}, {"engine", "script"}, {"options", options}};
}

json echo(const std::string& user, int n, int delay_ms) {
  return {{"user", user}, {"message", words(n)}, {"options", {{"delay_ms", delay_ms}}}};
}

std::string container_of(const std::string& instance, const std::string& run) {
  std::string id;
  eventually([&] {
    for (const auto& c : worker_containers(instance))
      if (c.labels.count("berth.run") && c.labels.at("berth.run") == run && c.state == "running") id = c.id;
    return !id.empty();
  });
  return id;
}
}  // namespace

TEST_CASE("a live worker is hardened", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_WORKER_MEMORY", "256m"}, {"BERTH_WORKER_CPUS", "0.5"}, {"BERTH_WORKER_PIDS", "100"}});
  api_client api(d.port(), test_key);
  auto id = api.start_run(script("silent"));
  auto cid = container_of(d.instance(), id);
  REQUIRE(!cid.empty());
  auto j = engine().inspect_json(cid);
  const auto& h = j["HostConfig"];
  CHECK(j["Config"]["User"] == "1000:1000");
  CHECK(h["CapDrop"] == json::array({"ALL"}));
  CHECK(h["SecurityOpt"] == json::array({"no-new-privileges"}));
  CHECK(h["ReadonlyRootfs"] == true);
  CHECK(h["Privileged"] == false);
  CHECK(h["Init"] == true);
  CHECK(h["Tmpfs"].contains("/tmp"));
  CHECK(h["PidsLimit"] == 100);
  CHECK(h["Memory"] == 256LL << 20);
  CHECK(h["MemorySwap"] == h["Memory"]);
  CHECK(h["NanoCpus"] == 500000000);
  CHECK(h["Ulimits"][0]["Name"] == "nofile");
  CHECK(h["LogConfig"]["Type"] == "json-file");
  CHECK(h["LogConfig"]["Config"].contains("max-size"));
  CHECK(h["AutoRemove"] == false);
  // No network but loopback: its own namespace, made ahead by a holder that has none (netns_pool.hpp).
  const std::string mode = h["NetworkMode"];
  if (mode != "none") {
    REQUIRE(mode.starts_with("container:"));
    auto holder = engine().inspect_json(mode.substr(10));
    CHECK(holder["HostConfig"]["NetworkMode"] == "none");
    CHECK(holder["Config"]["Labels"]["berth.netns"] == "holder");
  }
  for (const auto& m : j["Mounts"]) CHECK(m.value("Source", "").find("docker.sock") == std::string::npos);
  CHECK(j["Config"]["Labels"]["berth.run"] == id);
  CHECK(api.del("/api/v1/runs/" + id).status == 202);
  CHECK(api.wait_done(id)["status"] == "cancelled");
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("timeouts are enforced by berthd and leave no container", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_STOP_GRACE_S", "2"}});
  api_client api(d.port(), test_key);
  SECTION("wall clock: a 20 s run under a 4 s limit") {
    auto t0 = std::chrono::steady_clock::now();
    auto body = echo("u", 40, 500);
    body["options"]["timeout_s"] = 4;
    auto id = api.start_run(body);
    auto done = api.wait_done(id);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(done["status"] == "timed_out");
    CHECK(done["reason"] == "run exceeded its time limit of 4 s");
    CHECK(took >= 4s);
    CHECK(took < 9s);
    CHECK(spelled(stored_events(api, id)).size() < words(40).size());
  }
  SECTION("idle: a silent worker") {
    auto id = api.start_run(script("silent", {{"idle_timeout_s", 2}}));
    auto done = api.wait_done(id);
    CHECK(done["status"] == "timed_out");
    CHECK(done["reason"] == "no output for 2 s");
  }
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("an engine that refuses to stop a worker: logged, named in the run's reason, ended in bounded time",
          "[integration][lifecycle]") {
  temp_dir dir;
  docker_fault_proxy engine_front(dir.path + "/docker.sock", "/var/run/docker.sock", [](std::string_view method, std::string_view target) {
    auto q = target.find('?');
    auto path = target.substr(0, q);
    return method == "POST" && (path.ends_with("/stop") || path.ends_with("/kill"));
  });
  berthd_process d({{"BERTH_DOCKER_HOST", engine_front.host()}, {"BERTH_STOP_GRACE_S", "1"}});
  api_client api(d.port(), test_key);
  auto t0 = std::chrono::steady_clock::now();
  auto id = api.start_run(script("silent", {{"idle_timeout_s", 2}}));
  auto done = api.wait_done(id);
  CHECK(std::chrono::steady_clock::now() - t0 < 60s);  // not the hour wait_exit would allow
  CHECK(done["status"] == "timed_out");
  CHECK(done["reason"].get<std::string>().find("stopping the worker failed") != std::string::npos);
  CHECK(done["reason"].get<std::string>().find("refused by the test's fault proxy") != std::string::npos);
  CHECK(engine_front.refused() >= 2);
  CHECK(d.log().find("could not stop or kill the worker") != std::string::npos);
  CHECK(no_workers_left(d.instance()));  // removed by force, which the engine still accepts
}

TEST_CASE("cancel stops queued and running runs - and is idempotent", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_MAX_CONCURRENT", "1"}, {"BERTH_STOP_GRACE_S", "1"}});
  api_client api(d.port(), test_key);
  auto running = api.start_run(script("silent"));
  auto queued = api.start_run(script("silent"));
  REQUIRE(!container_of(d.instance(), running).empty());
  CHECK(api.get("/api/v1/runs/" + queued).json()["status"] == "queued");

  auto rq = api.del("/api/v1/runs/" + queued);
  CHECK(rq.status == 200);
  CHECK(rq.json()["status"] == "cancelled");
  CHECK(api.wait_done(queued)["status"] == "cancelled");

  CHECK(api.del("/api/v1/runs/" + running).status == 202);
  auto done = api.wait_done(running);
  CHECK(done["status"] == "cancelled");
  auto again = api.del("/api/v1/runs/" + running);
  CHECK(again.status == 200);
  CHECK(again.json()["status"] == "cancelled");
  CHECK(api.del("/api/v1/runs/01ABCDEFGHJKMNPQRSTVWXYZ01").status == 404);
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("a full queue answers 429 with Retry-After", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_MAX_CONCURRENT", "1"}, {"BERTH_QUEUE_MAX", "1"}});
  api_client api(d.port(), test_key);
  auto a = api.start_run(script("silent"));
  auto b = api.start_run(script("silent"));
  auto r = api.post("/api/v1/runs", script("silent").dump());
  CHECK(r.status == 429);
  CHECK(r.json()["error"]["code"] == "queue_full");
  CHECK(!r.header("Retry-After").empty());
  api.del("/api/v1/runs/" + b);
  api.del("/api/v1/runs/" + a);
  api.wait_done(a);
}

TEST_CASE("BERTH_MAX_CONCURRENT=2: six runs - never more than two workers alive - all succeed", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_MAX_CONCURRENT", "2"}, {"BERTH_MAX_PER_USER", "6"}});
  api_client api(d.port(), test_key);
  worker_watch workers(d.instance());  // live workers, from the engine's own event stream
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(api.start_run(echo("user" + std::to_string(i % 3), 4, 250)));
  for (const auto& id : ids) CHECK(api.wait_done(id)["status"] == "succeeded");
  CHECK(workers.finish_after(6));
  CHECK(workers.started() == 6);
  CHECK(workers.peak() == 2);
}

TEST_CASE("resource limits: memory ends oom - a fork bomb is contained - a flood is truncated", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_WORKER_MEMORY", "64m"}, {"BERTH_WORKER_PIDS", "64"}, {"BERTH_MAX_OUTPUT_BYTES", "1m"}});
  api_client api(d.port(), test_key);
  SECTION("oom") {
    auto done = api.wait_done(api.start_run(script("oom")));
    CHECK(done["status"] == "oom");
  }
  SECTION("fork bomb") {
    auto id = api.start_run(script("forkbomb"));
    CHECK(api.wait_done(id)["status"] == "succeeded");
    auto evs = stored_events(api, id);
    int forked = -1;
    for (const auto& e : evs)
      if (e.type == "result") forked = e.json()["forked"];
    CHECK(forked >= 0);
    CHECK(forked < 64);
  }
  SECTION("100 MB of output") {
    auto id = api.start_run(script("flood"));
    long peak_kib = 0;
    std::atomic<bool> finished{false};
    std::thread sampler([&] {
      while (!finished) {
        peak_kib = std::max(peak_kib, d.rss_kib());
        std::this_thread::sleep_for(20ms);
      }
    });
    auto done = api.wait_done(id);
    finished = true;
    sampler.join();
    CHECK(done["status"] == "succeeded");  // the result line still counts past the limit
    auto evs = stored_events(api, id);
    int notes = 0;
    for (const auto& e : evs)
      if (e.type == "log" && e.json().value("truncated", false)) ++notes;
    CHECK(notes == 1);
    CHECK(evs.size() < 2000);  // ~1 MiB of 1 KiB lines, not 100 MB
    CHECK(api.get("/api/v1/runs/" + id).json()["output_truncated"] == true);
    INFO("berthd peak RSS " << peak_kib << " KiB");
    if (!sanitized_build) CHECK(peak_kib < 64 * 1024);  // ASan's shadow and quarantine are not berthd's memory
  }
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("kill -9 mid-stream: after a restart the run completes with every event exactly once", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_MAX_CONCURRENT", "1"}});
  api_client api(d.port(), test_key);
  const std::string message = words(30);
  auto body = echo("u", 30, 150);
  int seen = 0;
  std::string streaming;
  auto queued = std::string();
  api.stream("POST", "/api/v1/runs", body.dump(), {}, [&](const sse_event& e) {
    if (streaming.empty()) streaming = e.json()["run"];
    if (e.type == "text" && ++seen == 5) {
      queued = api.start_run(echo("v", 6, 50));  // waits behind the first (cap 1)
      d.kill9();
      return false;
    }
    return true;
  });
  REQUIRE(!d.running());
  REQUIRE(!queued.empty());
  d.restart();
  api_client again(d.port(), test_key);
  CHECK(again.wait_done(streaming)["status"] == "succeeded");
  auto evs = stored_events(again, streaming);
  CHECK(spelled(evs) == message);
  CHECK(ids_contiguous(evs));
  CHECK(count_type(evs, "result") == 1);
  CHECK(count_type(evs, "done") == 1);
  CHECK(count_type(evs, "started") == 1);

  CHECK(again.wait_done(queued)["status"] == "succeeded");
  auto qevs = stored_events(again, queued);
  CHECK(spelled(qevs) == words(6));
  CHECK(ids_contiguous(qevs));
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("SIGTERM: berthd exits quickly - the worker keeps running and is followed after the next start", "[integration][lifecycle]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  auto id = api.start_run(echo("u", 20, 200));
  auto cid = container_of(d.instance(), id);
  REQUIRE(!cid.empty());
  auto t0 = std::chrono::steady_clock::now();
  d.terminate();
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  auto st = engine().inspect(cid);
  REQUIRE(st);
  CHECK(st->running);
  d.restart();
  api_client again(d.port(), test_key);
  CHECK(again.wait_done(id)["status"] == "succeeded");
  auto evs = stored_events(again, id);
  CHECK(spelled(evs) == words(20));
  CHECK(ids_contiguous(evs));
  CHECK(no_workers_left(d.instance()));
}

TEST_CASE("reconciliation: a vanished container makes the run lost - orphans are removed", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_RECONCILE_S", "1"}, {"BERTH_ORPHAN_GRACE_S", "0"}});
  api_client api(d.port(), test_key);
  auto id = api.start_run(script("silent"));
  auto cid = container_of(d.instance(), id);
  REQUIRE(!cid.empty());
  // Running in the store too: a run still `starting` at the crash is started afresh, not lost (a slow,
  // sanitized berthd showed that race).
  REQUIRE(eventually([&] { return api.get("/api/v1/runs/" + id).json()["status"] == "running"; }, 20s));
  d.kill9();
  engine().remove(cid);
  // An orphan: labelled as ours, unknown to the store.
  json body = {{"Image", "berth-worker:latest"},
               {"Labels", {{"berth.instance", d.instance()}, {"berth.run", "01ORPHAN0000000000000000000"}}}};
  auto orphan = engine().create_container("berth-orphan-" + d.instance(), body);
  d.restart();
  api_client again(d.port(), test_key);
  auto done = again.wait_done(id);
  CHECK(done["status"] == "lost");
  CHECK(done["reason"].get<std::string>().find("vanished") != std::string::npos);
  CHECK(eventually([&] { return !engine().inspect(orphan); }));
}

TEST_CASE("workers join network namespaces made ahead - each its own while it runs - kept for the same user "
          "only - a vanished one is done without - left-overs swept after a crash", "[integration][lifecycle]") {
  berthd_process d({{"BERTH_RECONCILE_S", "1"}});
  api_client api(d.port(), test_key);
  auto holder_ids = [&] {
    std::set<std::string> ids;
    for (const auto& c : netns_holders(d.instance()))
      if (c.state == "running") ids.insert(c.id);
    return ids;
  };
  auto joined_by = [&](const std::string& run) {
    auto j = engine().inspect_json(container_of(d.instance(), run));
    const std::string mode = j["HostConfig"]["NetworkMode"];
    CHECK(j["Config"]["Labels"].value("berth.netns", "") == (mode.starts_with("container:") ? mode.substr(10) : ""));
    return mode.starts_with("container:") ? mode.substr(10) : mode;
  };
  REQUIRE(eventually([&] { return holder_ids().size() == 2; }, 20s));  // BERTH_NETNS_SPARES defaults to 2
  const auto ready = holder_ids();
  for (const auto& h : ready) {
    auto j = engine().inspect_json(h);
    CHECK(j["HostConfig"]["NetworkMode"] == "none");
    CHECK(j["HostConfig"]["CapDrop"] == json::array({"ALL"}));
    CHECK(j["HostConfig"]["ReadonlyRootfs"] == true);
    CHECK(j["HostConfig"]["Mounts"].is_null());
    CHECK(j["Config"]["User"] == "65534:65534");
  }

  // Two runs of one user at once: each worker joins a namespace of its own, made before it was asked for.
  auto a = api.start_run(script("silent"));
  auto b = api.start_run(script("silent"));
  const std::set<std::string> joined = {joined_by(a), joined_by(b)};
  CHECK(joined == ready);
  for (const auto& run : {a, b}) CHECK(api.del("/api/v1/runs/" + run).status == 202);
  for (const auto& run : {a, b}) CHECK(api.wait_done(run)["status"] == "cancelled");
  // Once the workers are gone one namespace is kept for the user's next run, the other removed; the pool is
  // made up again with new ones.
  auto still_there = [&] {
    std::set<std::string> out;
    for (const auto& h : joined)
      if (engine().inspect(h)) out.insert(h);
    return out;
  };
  REQUIRE(eventually([&] { return still_there().size() == 1 && no_workers_left(d.instance()); }));
  const std::string kept = *still_there().begin();
  REQUIRE(eventually([&] { return holder_ids().size() == 3; }, 20s));
  // Another user never joins it; the same user's next run does.
  auto v = api.start_run({{"user", "v"}, {"message", "x"}, {"engine", "script"}, {"options", {{"scenario", "silent"}}}});
  CHECK(joined_by(v) != kept);
  auto u = api.start_run(script("silent"));
  CHECK(joined_by(u) == kept);
  for (const auto& run : {u, v}) CHECK(api.del("/api/v1/runs/" + run).status == 202);
  for (const auto& run : {u, v}) CHECK(api.wait_done(run)["status"] == "cancelled");

  // Holders removed behind berthd's back: the next run starts in a namespace of its own all the same.
  REQUIRE(eventually([&] { return no_workers_left(d.instance()); }));
  for (const auto& h : holder_ids()) engine().remove(h);
  auto c = api.start_run(echo("u", 3, 0));
  CHECK(api.wait_done(c)["status"] == "succeeded");
  CHECK(spelled(stored_events(api, c)) == words(3));
  CHECK(d.log().find("could not be joined; starting without it") != std::string::npos);

  // A crash leaves them behind; the next berthd's reconciler removes them (and makes its own).
  REQUIRE(eventually([&] { return holder_ids().size() == 2; }, 20s));
  const auto before_crash = holder_ids();
  d.kill9();
  d.restart();
  CHECK(eventually([&] {
    for (const auto& h : before_crash)
      if (engine().inspect(h)) return false;
    return true;
  }, 30s));
  CHECK(eventually([&] { return holder_ids().size() == 2; }, 20s));
  CHECK(no_workers_left(d.instance()));
}
