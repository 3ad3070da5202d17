// A real two-node Docker Swarm (test/support/swarm_fixture.sh: dockerds in network namespaces of their own,
// joined over a bridge): berth's service and secret bodies (server/docker/swarm_spec) as a manager takes them,
// and the worker, given its task by a secret on another node, runs and reports through the service's logs.
// Tagged [swarm]; ctest runs them inside the `swarm` fixture.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "common/task.hpp"
#include "docker_helpers.hpp"
#include "fake_anthropic.hpp"
#include "netns_forwarder.hpp"
#include "run_helpers.hpp"
#include "server/docker/stream_demuxer.hpp"
#include "server/docker/swarm_spec.hpp"

using namespace berth;
using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
docker::docker_client& manager() {
  static docker::docker_client c([] {
    const char* s = std::getenv("BERTH_TEST_SWARM_MANAGER");
    return std::string(s ? s : "");
  }());
  return c;
}

// Everything the test made carries this label; removed at the end, pass or fail.
struct swarm_cleanup {
  std::string label = "berth.test=swarm-" + std::to_string(::getpid());
  ~swarm_cleanup() {
    try {
      for (const auto& s : manager().services(label)) manager().remove_service(s.value("ID", ""));
      for (const auto& s : manager().secrets(label)) manager().remove_secret(s.value("ID", ""));
    } catch (const std::exception&) {}
  }
};
}  // namespace

TEST_CASE("swarm: a worker on another node gets its task from a secret, runs hardened, reports through the logs - "
          "its task completes with exit 0 - nothing is left", "[swarm]") {
  REQUIRE(std::getenv("BERTH_TEST_SWARM_MANAGER"));
  swarm_cleanup cleanup;
  const std::string run = "01SWARMTEST" + std::to_string(::getpid());
  std::map<std::string, std::string> labels = {{"berth.test", cleanup.label.substr(11)}, {"berth.run", run}};

  task t;
  t.run = run;
  t.user = "u";
  t.engine = "echo";
  t.message = "hello from the other node";
  const auto secret_name = docker::swarm_secret_name(run);
  const auto secret = manager().create_secret(docker::swarm_secret_body(secret_name, labels, serialize_task(t)));

  docker::swarm_job_params p;
  p.name = docker::swarm_service_name(run);
  p.image = "berth-worker:latest";
  p.labels = labels;
  p.memory = 128LL << 20;
  p.cpus = 0.5;
  p.pids = 64;
  p.constraints = {"node.hostname==berth-node2"};
  p.secret_id = secret;
  p.secret_name = secret_name;
  const auto service = manager().create_service(docker::swarm_service_body(p));

  // Its task ends; the manager says where it ran and how.
  docker::swarm_task_end end;
  json task;
  CHECK(eventually([&] {
    auto tasks = manager().service_tasks(service);
    if (tasks.empty()) return false;
    task = tasks[0];
    end = docker::read_swarm_task(task, false);
    return end.ended;
  }, 90s));
  INFO(task.dump());
  REQUIRE(end.ended);
  CHECK(end.exit_code == 0);
  CHECK_FALSE(end.lost);
  auto node = manager().node(end.node);
  CHECK(node["Description"]["Hostname"] == "berth-node2");

  // The container node 2 ran, as its own engine reports it: hardened as the body asked.
  std::string node2 = std::getenv("BERTH_TEST_SWARM_MANAGER");
  node2.replace(node2.rfind("/n1/"), 4, "/n2/");
  docker::docker_client worker_engine(node2);
  auto c = worker_engine.inspect_json(task["Status"]["ContainerStatus"].value("ContainerID", ""));
  REQUIRE(c.is_object());
  CHECK(c["HostConfig"]["ReadonlyRootfs"] == true);
  CHECK(c["HostConfig"]["CapDrop"] == json::array({"ALL"}));
  CHECK(c["HostConfig"]["PidsLimit"] == 64);
  CHECK(c["HostConfig"]["Memory"] == 128LL << 20);
  CHECK(c["Config"]["User"] == "1000:1000");

  // The worker's output as the service's logs: its worker-protocol lines, the message echoed back.
  auto logs = manager().service_logs(service, true);
  docker::stream_demuxer demux;
  std::string out;
  const auto log_deadline = std::chrono::steady_clock::now() + 30s;
  while (out.find("\"type\":\"result\"") == std::string::npos && std::chrono::steady_clock::now() < log_deadline) {
    auto r = logs.read();
    demux.feed(r.data, [&](docker::stream_kind k, std::string_view d) {
      if (k == docker::stream_kind::out) out.append(d);
    });
    if (r.eof) break;
  }
  logs.shutdown_both();
  INFO(out);
  CHECK(out.find("\"text\":\" other\",\"type\":\"text\"") != std::string::npos);
  CHECK(out.find("\"text\":\"hello from the other node\"") != std::string::npos);  // the result

  manager().remove_service(service);
  manager().remove_secret(secret);
  CHECK(manager().services(cleanup.label).empty());
  CHECK(manager().secrets(cleanup.label).empty());
}

// ---------------------------------------------------------------------------------------------------------
// berthd with BERTH_EXECUTOR=swarm on the same swarm. berthd is a process of the test, in the host's network
// namespace; in production it runs on the workers' overlay. Here a container on node 1 sits on that overlay
// under the gateway's advertised name, and a forwarder listening inside its namespace passes connections to
// berthd's gateway socket (test/support/netns_forwarder.hpp) — so workers reach the gateway the way they would
// in production: by name, over the internal overlay, with their run token, and in no other way.
namespace {
constexpr std::uint16_t gateway_port = 8120;

docker::docker_client& node2() {
  static docker::docker_client c([] {
    std::string s = std::getenv("BERTH_TEST_SWARM_MANAGER");
    return s.replace(s.rfind("/n1/"), 4, "/n2/");
  }());
  return c;
}

json script_run(const std::string& user, const std::string& scenario, json options = json::object()) {
  options["scenario"] = scenario;
  return {{"user", user}, {"engine", "script"}, {"message", "x"}, {"options", options}};
}

// What berth_on_swarm made outside berthd, removed even when its constructor throws part-way.
struct overlay_removal {
  std::string name;
  ~overlay_removal() {
    eventually([&] {  // an overlay goes once no task or container is attached to it any more
      try {
        manager().remove_network(name);
        return manager().network(name).is_null();
      } catch (const std::exception&) {
        return false;
      }
    }, 30s);
  }
};
struct container_removal {
  std::string id;
  ~container_removal() {
    try { if (!id.empty()) manager().remove(id); } catch (const std::exception&) {}
  }
};

struct berth_on_swarm {
  const std::string tag = std::to_string(::getpid());
  const std::string network = "berth-workers-" + tag;
  temp_dir gateway_dir;
  overlay_removal overlay{network};  // berthd makes it (internal, attachable) at its start
  berthd_process d;
  container_removal holder;
  std::optional<netns_forwarder> forwarder;

  explicit berth_on_swarm(berthd_process::env_list extra = {})
      : d([&] {
          std::map<std::string, std::string> env = {
              {"BERTH_EXECUTOR", "swarm"},
              {"BERTH_DOCKER_HOST", std::string("unix://") + std::getenv("BERTH_TEST_SWARM_MANAGER")},
              {"BERTH_SWARM_NETWORK", network},
              {"BERTH_GATEWAY_ADVERTISE", "berth-gateway:" + std::to_string(gateway_port)},
              {"BERTH_GATEWAY_DIR", gateway_dir.path},
              {"BERTH_NODE_ID", "swarmtest"},
              {"BERTH_RECONCILE_S", "2"},
              {"BERTH_WORKER_MEMORY", "256m"},
          };
          for (const auto& [k, v] : extra) env[k] = v;
          return env;
        }()) {
    // The gateway's stand-in joins the overlay on node 1 under the advertised name.
    json body = {{"Image", "berth-worker:latest"},
                 {"Entrypoint", {"/bin/sleep"}},
                 {"Cmd", {"infinity"}},
                 {"User", "65534:65534"},
                 {"Labels", {{"berth.test", "swarm-" + tag}}},
                 {"HostConfig", {{"NetworkMode", network}, {"ReadonlyRootfs", true}}},
                 {"NetworkingConfig", {{"EndpointsConfig", {{network, {{"Aliases", {"berth-gateway"}}}}}}}}};
    holder.id = manager().create_container("berth-gateway-" + tag, body);
    manager().start(holder.id);
    auto pid = manager().inspect_json(holder.id)["State"]["Pid"].get<pid_t>();
    forwarder.emplace(pid, gateway_port, gateway_dir.path + "/gateway-swarmtest.sock");
  }
  ~berth_on_swarm() {
    forwarder.reset();
    try {
      d.terminate();
      for (const auto& s : manager().services("berth.instance=" + d.instance())) manager().remove_service(s.value("ID", ""));
      for (const auto& s : manager().secrets("berth.instance=" + d.instance())) manager().remove_secret(s.value("ID", ""));
    } catch (const std::exception&) {}
  }
  // No service or secret on the manager, and no container of a run on either node (a cancelled run's worker
  // is gone, not running on).
  bool nothing_left() {
    const auto label = "berth.instance=" + d.instance();
    return manager().services(label).empty() && manager().secrets(label).empty() && manager().list(label).empty() &&
           node2().list(label).empty();
  }
};
}  // namespace

TEST_CASE("swarm executor: runs stream live and spread over the nodes, each recording its node - a claude run "
          "reaches the gateway over the overlay with its run token - nothing is left", "[swarm]") {
  REQUIRE(std::getenv("BERTH_TEST_SWARM_MANAGER"));
  const std::string real_key = "sk-ant-swarm-REAL-5b1e77c0";
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", real_key}}};
  berth_on_swarm s({{"BERTH_ENGINES", "echo,script,claude"},
                    {"ANTHROPIC_API_KEY", real_key},
                    {"ANTHROPIC_BASE_URL", fake.base_url()}});
  api_client api(s.d.port(), test_key);
  CHECK(!manager().network(s.network).is_null());
  CHECK(manager().network(s.network)["Internal"] == true);

  // Four runs at once: the swarm spreads them over its two nodes (its scheduler ranks nodes by their active
  // tasks; one placement is not a promise, four on one node would be). The first is followed live: its ticks
  // arrive while it still runs.
  std::vector<std::string> others;
  for (const char* user : {"b", "c", "d"}) others.push_back(api.start_run(script_run(user, "ticks", {{"count", 24}})));
  std::string first;
  bool live = false;
  api.stream("POST", "/api/v1/runs", script_run("a", "ticks", {{"count", 24}}).dump(), {}, [&](const sse_event& e) {
    if (first.empty()) first = e.json()["run"];
    if (e.type == "text" && e.json()["text"] == "tick 3 ") live = api.get("/api/v1/runs/" + first).json()["status"] == "running";
    return e.type != "done";
  });
  CHECK(live);
  std::set<std::string> nodes;
  others.push_back(first);
  for (const auto& id : others) {
    CHECK(api.wait_done(id)["status"] == "succeeded");
    auto evs = stored_events(api, id);
    CHECK(spelled(evs) == ticks_said(24));  // every tick exactly once, in order
    CHECK(ids_contiguous(evs));
    auto node = api.get("/api/v1/runs/" + id).json().value("worker_node", "");
    CHECK(node.starts_with("berth-node"));
    nodes.insert(node);
  }
  CHECK(nodes.size() == 2);

  // The agent's CLI on a cluster node reaches the model only through berthd's gateway, by the advertised
  // name over the overlay, holding nothing but its run token; the gateway adds the real key.
  auto claude = api.start_run({{"user", "c"}, {"engine", "claude"}, {"message", "@@text:3"}});
  auto done = api.wait_done(claude);
  INFO(done.dump());
  CHECK(done["status"] == "succeeded");
  CHECK(spelled(stored_events(api, claude)).find("word1") != std::string::npos);
  auto seen = fake.message_requests();
  REQUIRE(!seen.empty());
  for (const auto& r : seen) CHECK(r["key_matched"] == true);
  CHECK(s.forwarder->connections() > 0);

  CHECK(eventually([&] { return s.nothing_left(); }, 20s));
}

TEST_CASE("swarm executor: cancel and the run timeout remove the service - cancelled and timed_out", "[swarm]") {
  REQUIRE(std::getenv("BERTH_TEST_SWARM_MANAGER"));
  berth_on_swarm s;
  api_client api(s.d.port(), test_key);
  auto cancelled = api.start_run(script_run("a", "silent"));
  auto timed = api.start_run(script_run("b", "silent", {{"timeout_s", 4}}));
  REQUIRE(eventually([&] { return api.get("/api/v1/runs/" + cancelled).json().contains("worker_node"); }, 60s));
  CHECK(api.del("/api/v1/runs/" + cancelled).status == 202);
  auto c = api.wait_done(cancelled);
  CHECK(c["status"] == "cancelled");
  auto t = api.wait_done(timed);
  CHECK(t["status"] == "timed_out");
  CHECK(t["reason"].get<std::string>().find("4 s") != std::string::npos);
  CHECK(eventually([&] { return s.nothing_left(); }, 20s));
}

TEST_CASE("swarm executor: kill -9 of berthd mid-run - after a restart the run completes with every event exactly once",
          "[swarm]") {
  REQUIRE(std::getenv("BERTH_TEST_SWARM_MANAGER"));
  berth_on_swarm s;
  api_client api(s.d.port(), test_key);
  std::string id;
  int seen = 0;
  api.stream("POST", "/api/v1/runs", script_run("a", "ticks", {{"count", 30}}).dump(), {}, [&](const sse_event& e) {
    if (id.empty()) id = e.json()["run"];
    if (e.type == "text" && ++seen == 5) {
      s.d.kill9();
      return false;
    }
    return true;
  });
  REQUIRE(!s.d.running());
  CHECK(manager().services("berth.run=" + id).size() == 1);  // its worker runs on without berthd
  s.d.restart();
  api_client again(s.d.port(), test_key);
  CHECK(again.wait_done(id)["status"] == "succeeded");
  auto evs = stored_events(again, id);
  CHECK(spelled(evs) == ticks_said(30));
  CHECK(ids_contiguous(evs));
  CHECK(count_type(evs, "result") == 1);
  CHECK(count_type(evs, "started") == 1);
  CHECK(eventually([&] { return s.nothing_left(); }, 20s));
}

TEST_CASE("swarm executor: a node that goes away mid-run ends its run lost, naming the node - berthd keeps serving",
          "[swarm]") {
  REQUIRE(std::getenv("BERTH_TEST_SWARM_MANAGER"));
  berth_on_swarm s({{"BERTH_SWARM_CONSTRAINTS", "node.hostname==berth-node2"}});
  api_client api(s.d.port(), test_key);
  auto id = api.start_run(script_run("a", "ticks", {{"count", 400}}));
  REQUIRE(eventually([&] { return api.get("/api/v1/runs/" + id).json()["events"].get<int>() >= 5; }, 60s));
  // Node 2 drops off the network (its link down, as a machine that lost power or its switch port).
  struct link_back {
    ~link_back() { std::system("ip -n berthsw2 link set vberth2p up"); }
  } restore;
  REQUIRE(std::system("ip -n berthsw2 link set vberth2p down") == 0);
  auto done = api.wait_done(id);
  INFO(done.dump());
  CHECK(done["status"] == "lost");
  CHECK(done["reason"].get<std::string>().find("berth-node2") != std::string::npos);
  CHECK(api.get("/health").status == 200);
  CHECK(eventually([&] { return manager().services("berth.instance=" + s.d.instance()).empty(); }, 20s));

  // The node comes back; the swarm stops what it still ran for the removed service, and runs go on there.
  std::system("ip -n berthsw2 link set vberth2p up");
  auto next = api.start_run(script_run("a", "ticks", {{"count", 2}}));
  CHECK(api.wait_done(next)["status"] == "succeeded");
  CHECK(eventually([&] { return s.nothing_left(); }, 60s));
}
