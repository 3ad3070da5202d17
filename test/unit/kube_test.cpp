// The Kubernetes executor's pure parts: the Job and Secret bodies berth sends, and how a Job's and its pod's
// status end a run. Shapes from the Kubernetes API reference (batch/v1 Job, core/v1 Secret and Pod).
#include <catch2/catch.hpp>

#include <boost/beast/core/detail/base64.hpp>

#include "server/kube/job_spec.hpp"
#include "server/kube/kube_client.hpp"

using nlohmann::json;
using namespace berth::kube;

TEST_CASE("kubernetes: names are DNS-1123 - label values are made safe") {
  CHECK(job_name("01M91FCB27DD44H1C9APQNQB47") == "berth-run-01m91fcb27dd44h1c9apqnqb47");
  CHECK(secret_name("01M91FCB27DD44H1C9APQNQB47") == "berth-task-01m91fcb27dd44h1c9apqnqb47");
  CHECK(label_value("github.alice") == "github.alice");
  CHECK(label_value("a b/c") == "a_b_c");
  CHECK(label_value("-x-") == "x");
  CHECK(label_value(std::string(80, 'a')).size() == 63);
}

TEST_CASE("kubernetes: one Job per run - tried once - deadline and TTL - hardened - the task from a Secret") {
  job_params p;
  p.name = "berth-run-r1";
  p.space = "berth";
  p.image = "berth-worker:latest";
  p.labels = {{"berth.instance", "i1"}, {"berth.run", "R1"}, {"berth.user", "a b"}};
  p.memory = 256LL << 20;
  p.cpus = 0.5;
  p.deadline_s = 120;
  p.ttl_s = 60;
  p.secret = "berth-task-r1";
  auto j = job_body(p);
  CHECK(j["apiVersion"] == "batch/v1");
  CHECK(j["kind"] == "Job");
  CHECK(j["metadata"]["name"] == "berth-run-r1");
  CHECK(j["metadata"]["namespace"] == "berth");
  CHECK(j["metadata"]["labels"]["berth.user"] == "a_b");
  const auto& spec = j["spec"];
  CHECK(spec["backoffLimit"] == 0);
  CHECK(spec["activeDeadlineSeconds"] == 120);
  CHECK(spec["ttlSecondsAfterFinished"] == 60);
  const auto& pod = spec["template"]["spec"];
  CHECK(spec["template"]["metadata"]["labels"]["berth.run"] == "R1");
  CHECK(pod["restartPolicy"] == "Never");
  CHECK(pod["automountServiceAccountToken"] == false);
  CHECK(pod["securityContext"]["runAsNonRoot"] == true);
  CHECK(pod["securityContext"]["runAsUser"] == 1000);
  CHECK(pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault");
  REQUIRE(pod["containers"].size() == 1);
  const auto& c = pod["containers"][0];
  CHECK(c["name"] == "worker");
  CHECK(c["image"] == "berth-worker:latest");
  CHECK(c["securityContext"]["readOnlyRootFilesystem"] == true);
  CHECK(c["securityContext"]["allowPrivilegeEscalation"] == false);
  CHECK(c["securityContext"]["capabilities"]["drop"] == json::array({"ALL"}));
  CHECK(c["resources"]["limits"]["memory"] == std::to_string(256LL << 20));
  CHECK(c["resources"]["limits"]["cpu"] == "500m");
  bool task_env = false;
  for (const auto& e : c["env"]) task_env |= e["name"] == "BERTH_TASK_FILE" && e["value"] == "/run/berth/task/task.json";
  CHECK(task_env);
  json task_volume;
  for (const auto& v : pod["volumes"])
    if (v["name"] == "task") task_volume = v;
  CHECK(task_volume["secret"]["secretName"] == "berth-task-r1");
  bool read_only = false;
  for (const auto& m : c["volumeMounts"]) read_only |= m["name"] == "task" && m["readOnly"] == true && m["mountPath"] == "/run/berth/task";
  CHECK(read_only);
  // Nothing of the task, its token or any credential in the Job itself.
  CHECK(j.dump().find("BERTH ") == std::string::npos);
}

TEST_CASE("kubernetes: the task Secret is owned by the Job - immutable - the line base64 encoded") {
  auto s = task_secret_body("berth-task-r1", "berth", {{"berth.run", "R1"}}, R"({"run":"R1"})", "berth-run-r1", "uid-123");
  CHECK(s["apiVersion"] == "v1");
  CHECK(s["kind"] == "Secret");
  CHECK(s["type"] == "Opaque");
  CHECK(s["immutable"] == true);
  const auto& owner = s["metadata"]["ownerReferences"][0];
  CHECK(owner["kind"] == "Job");
  CHECK(owner["apiVersion"] == "batch/v1");
  CHECK(owner["name"] == "berth-run-r1");
  CHECK(owner["uid"] == "uid-123");
  namespace b64 = boost::beast::detail::base64;
  const std::string enc = s["data"]["task.json"];
  std::string dec(b64::decoded_size(enc.size()), '\0');
  dec.resize(b64::decode(dec.data(), enc.data(), enc.size()).first);
  CHECK(dec == R"({"run":"R1"})");
}

TEST_CASE("kubernetes: a run's end from its Job and pod - exit codes, OOM, deadline, lost nodes, pull failures") {
  auto pod_with = [](json state, std::string phase = "Running") {
    return json{{"status", {{"phase", phase}, {"containerStatuses", json::array({{{"name", "worker"}, {"state", state}}})}}}};
  };
  SECTION("running: not ended") {
    auto e = read_end(json::object(), pod_with({{"running", {{"startedAt", "2026-12-04T00:00:00Z"}}}}));
    CHECK_FALSE(e.ended);
  }
  SECTION("no pod yet: not ended") { CHECK_FALSE(read_end(json::object(), nullptr).ended); }
  SECTION("an exit code") {
    auto e = read_end(json::object(), pod_with({{"terminated", {{"exitCode", 3}, {"reason", "Error"}}}}, "Failed"));
    CHECK(e.ended);
    CHECK(e.exit_code == 3);
    CHECK_FALSE(e.oom_killed);
    CHECK_FALSE(e.lost);
  }
  SECTION("OOM") {
    auto e = read_end(json::object(), pod_with({{"terminated", {{"exitCode", 137}, {"reason", "OOMKilled"}}}}, "Failed"));
    CHECK(e.exit_code == 137);
    CHECK(e.oom_killed);
  }
  SECTION("the Job's deadline") {
    json job = {{"status", {{"conditions", json::array({{{"type", "Failed"}, {"status", "True"}, {"reason", "DeadlineExceeded"}}})}}}};
    auto e = read_end(job, pod_with({{"running", json::object()}}));
    CHECK(e.ended);
    CHECK(e.deadline);
  }
  SECTION("a node that vanished or an eviction: lost, with the reason") {
    json pod = {{"status", {{"phase", "Unknown"}, {"reason", "NodeLost"}, {"message", "Node n2 which was running pod is unresponsive"}}}};
    auto e = read_end(json::object(), pod);
    CHECK(e.ended);
    CHECK(e.lost);
    CHECK(e.reason.find("NodeLost") != std::string::npos);
    json evicted = {{"status", {{"phase", "Failed"}, {"reason", "Evicted"}, {"message", "low on memory"}}}};
    CHECK(read_end(json::object(), evicted).lost);
  }
  SECTION("an image that cannot be pulled ends the run instead of waiting for ever") {
    auto e = read_end(json::object(), pod_with({{"waiting", {{"reason", "ErrImagePull"}, {"message", "not found"}}}}, "Pending"));
    CHECK(e.ended);
    CHECK(e.reason.find("ErrImagePull") != std::string::npos);
    CHECK_FALSE(read_end(json::object(), pod_with({{"waiting", {{"reason", "ContainerCreating"}}}}, "Pending")).ended);
  }
  SECTION("fields of the wrong type are not trusted") {
    json odd = {{"status", {{"phase", 5}, {"containerStatuses", json::array({{{"name", "worker"}, {"state", {{"terminated", {{"exitCode", "0"}}}}}}})}}}};
    auto e = read_end(json{{"status", {{"conditions", "x"}}}}, odd);
    CHECK(e.ended);
    CHECK_FALSE(e.exit_code);
    CHECK(e.lost);
  }
}

TEST_CASE("kubernetes: a kubeconfig (as JSON) gives the current context's server, CA, token and namespace - what "
          "berth cannot use is refused saying why") {
  json cfg = {{"current-context", "ctx"},
              {"contexts", {{{"name", "ctx"}, {"context", {{"cluster", "c1"}, {"user", "u1"}, {"namespace", "runs"}}}}}},
              {"clusters", {{{"name", "c1"}, {"cluster", {{"server", "https://10.0.0.1:6443"}, {"certificate-authority-data", "UEVN"}}}}}},
              {"users", {{{"name", "u1"}, {"user", {{"token", "tok"}}}}}}};
  std::string why;
  auto t = target_from_kubeconfig(cfg, why);
  REQUIRE(t);
  CHECK(t->server == "https://10.0.0.1:6443");
  CHECK(t->ca_pem == "PEM");  // decoded
  CHECK(t->token == "tok");
  CHECK(t->space == "runs");
  auto no_ns = cfg;
  no_ns["contexts"][0]["context"].erase("namespace");
  CHECK(target_from_kubeconfig(no_ns, why)->space == "default");

  auto certs = cfg;
  certs["users"][0]["user"] = {{"client-certificate-data", "x"}, {"client-key-data", "y"}};
  CHECK_FALSE(target_from_kubeconfig(certs, why));
  CHECK(why.find("client certificates") != std::string::npos);
  auto wrong = cfg;
  wrong["current-context"] = "other";
  CHECK_FALSE(target_from_kubeconfig(wrong, why));
  CHECK(why.find("other") != std::string::npos);
  CHECK_FALSE(target_from_kubeconfig(json::array(), why));
}
