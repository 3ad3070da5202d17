// The Swarm executor's pure parts: the service and secret bodies berth sends a manager (Engine API 1.41), and
// how a task's state ends a run.
#include <catch2/catch.hpp>

#include <boost/beast/core/detail/base64.hpp>

#include "server/docker/swarm_spec.hpp"

using nlohmann::json;
using namespace berth::docker;

TEST_CASE("swarm: one ReplicatedJob service per run - tried once - hardened - the task from a secret - placed") {
  swarm_job_params p;
  p.name = swarm_service_name("01ABC");
  p.image = "berth-worker:latest";
  p.labels = {{"berth.instance", "i1"}, {"berth.run", "01ABC"}};
  p.env = {"NO_PROXY=127.0.0.1,localhost"};
  p.memory = 256LL << 20;
  p.cpus = 0.5;
  p.pids = 100;
  p.constraints = {"node.labels.berth==worker"};
  p.network = "berth-gw";
  p.secret_id = "sec123";
  p.secret_name = swarm_secret_name("01ABC");
  auto j = swarm_service_body(p);
  CHECK(j["Name"] == "berth-run-01abc");
  CHECK(j["Mode"]["ReplicatedJob"]["MaxConcurrent"] == 1);
  CHECK(j["Mode"]["ReplicatedJob"]["TotalCompletions"] == 1);
  const auto& t = j["TaskTemplate"];
  CHECK(t["RestartPolicy"]["Condition"] == "none");
  CHECK(t["Placement"]["Constraints"] == json::array({"node.labels.berth==worker"}));
  CHECK(t["Networks"][0]["Target"] == "berth-gw");
  CHECK(t["Resources"]["Limits"]["MemoryBytes"] == 256LL << 20);
  CHECK(t["Resources"]["Limits"]["NanoCPUs"] == 500000000);
  CHECK(t["Resources"]["Limits"]["Pids"] == 100);
  const auto& c = t["ContainerSpec"];
  CHECK(c["User"] == "1000:1000");
  CHECK(c["ReadOnly"] == true);
  CHECK(c["Init"] == true);
  CHECK(c["CapabilityDrop"] == json::array({"ALL"}));
  CHECK(c["Labels"]["berth.run"] == "01ABC");
  CHECK(c["Secrets"][0]["SecretID"] == "sec123");
  CHECK(c["Secrets"][0]["File"]["Name"] == "berth-task-01abc");
  CHECK(c["Secrets"][0]["File"]["Mode"] == 0400);
  CHECK(c["Secrets"][0]["File"]["UID"] == "1000");
  bool task_file = false;
  for (const auto& e : c["Env"]) task_file |= e == "BERTH_TASK_FILE=/run/secrets/berth-task-01abc";
  CHECK(task_file);
  CHECK(c["Mounts"].size() == 3);  // /tmp, HOME and (no volume asked for) the workspace on tmpfs
  for (const auto& m : c["Mounts"]) CHECK(m["Type"] == "tmpfs");
  CHECK(j.dump().find("docker.sock") == std::string::npos);
}

TEST_CASE("swarm: the task secret carries the task line base64 encoded and the run's labels") {
  auto s = swarm_secret_body("berth-task-01abc", {{"berth.run", "01ABC"}}, R"({"run":"01ABC"})");
  CHECK(s["Name"] == "berth-task-01abc");
  CHECK(s["Labels"]["berth.run"] == "01ABC");
  namespace b64 = boost::beast::detail::base64;
  const std::string enc = s["Data"];
  std::string dec(b64::decoded_size(enc.size()), '\0');
  dec.resize(b64::decode(dec.data(), enc.data(), enc.size()).first);
  CHECK(dec == R"({"run":"01ABC"})");
}

TEST_CASE("swarm: a run's end from its task - exit codes, rejected, orphaned, a node down, fields of the wrong type") {
  auto task = [](std::string state, json cs = nullptr, std::string err = "") {
    json t = {{"NodeID", "n2"}, {"Status", {{"State", state}}}};
    if (!cs.is_null()) t["Status"]["ContainerStatus"] = cs;
    if (!err.empty()) t["Status"]["Err"] = err;
    return t;
  };
  CHECK_FALSE(read_swarm_task(task("running"), false).ended);
  CHECK_FALSE(read_swarm_task(task("pending"), false).ended);
  auto done = read_swarm_task(task("complete", {{"ExitCode", 0}}), false);
  CHECK(done.ended);
  CHECK(done.exit_code == 0);
  CHECK(done.node == "n2");
  auto failed = read_swarm_task(task("failed", {{"ExitCode", 3}}, "task: non-zero exit (3)"), false);
  CHECK(failed.exit_code == 3);
  CHECK_FALSE(failed.lost);
  auto rejected = read_swarm_task(task("rejected", nullptr, "no suitable node"), false);
  CHECK(rejected.ended);
  CHECK(rejected.rejected);
  CHECK(rejected.reason.find("no suitable node") != std::string::npos);
  auto orphaned = read_swarm_task(task("orphaned"), false);
  CHECK(orphaned.lost);
  auto down = read_swarm_task(task("running"), true);
  CHECK(down.ended);
  CHECK(down.lost);
  CHECK(down.reason.find("n2") != std::string::npos);
  auto odd = read_swarm_task(json{{"NodeID", 5}, {"Status", {{"State", "failed"}, {"ContainerStatus", {{"ExitCode", "3"}}}}}}, false);
  CHECK(odd.ended);
  CHECK(odd.lost);
  CHECK_FALSE(odd.exit_code);
  CHECK_FALSE(read_swarm_task(json("nonsense"), false).ended);
}

TEST_CASE("swarm: a job service where the manager removes a job's tasks with it (API 1.43, Docker 24), else a "
          "replicated service of one that never restarts") {
  CHECK_FALSE(swarm_removes_job_tasks("1.41"));
  CHECK_FALSE(swarm_removes_job_tasks("1.42"));
  CHECK(swarm_removes_job_tasks("1.43"));
  CHECK(swarm_removes_job_tasks("1.45"));
  CHECK(swarm_removes_job_tasks("2.0"));
  CHECK_FALSE(swarm_removes_job_tasks(""));
  CHECK_FALSE(swarm_removes_job_tasks("garbage"));
  swarm_job_params p;
  p.name = "berth-run-x";
  p.secret_name = "s";
  CHECK(swarm_service_body(p)["Mode"]["ReplicatedJob"]["TotalCompletions"] == 1);
  p.job_mode = false;
  auto j = swarm_service_body(p);
  CHECK(j["Mode"] == json{{"Replicated", {{"Replicas", 1}}}});
  CHECK(j["TaskTemplate"]["RestartPolicy"]["Condition"] == "none");
}
