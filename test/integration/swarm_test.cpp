// A real two-node Docker Swarm (test/support/swarm_fixture.sh: dockerds in network namespaces of their own,
// joined over a bridge): berth's service and secret bodies (server/docker/swarm_spec) as a manager takes them,
// and the worker, given its task by a secret on another node, runs and reports through the service's logs.
// Tagged [swarm]; ctest runs them inside the `swarm` fixture.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <string>

#include "common/task.hpp"
#include "docker_helpers.hpp"
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
  auto logs = manager().follow_service_logs(service);
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
