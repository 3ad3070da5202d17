// berthd with BERTH_EXECUTOR=kubernetes against a fake API server (test/support/fake_kube.hpp): no Kubernetes
// API server can run on these machines. The fake speaks the endpoints berth uses with the API's shapes and
// runs each Job's pod as a real berth-worker process, so what is tested is berth's side: the bodies it sends,
// following a pod's log (live, and resumed after a kill -9), exit codes, the Job's deadline, cancel, cleanup,
// and what it does when the API answers 409, 500 or nothing in time — over TLS verified against the CA file,
// with the bearer token.
#include <catch2/catch.hpp>

#include <fstream>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
#include "fake_kube.hpp"
#include "run_helpers.hpp"
#include "server/kube/job_spec.hpp"

using namespace berth;
using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
const std::string kube_token = "kube-token-3f9a0c77e1";

json script_run(const std::string& scenario, json options = json::object()) {
  options["scenario"] = scenario;
  return {{"user", "k"}, {"engine", "script"}, {"message", "x"}, {"options", options}};
}

struct berth_on_kube {
  fake_kube api{kube_token};
  temp_dir dir;
  berthd_process d;
  explicit berth_on_kube(berthd_process::env_list extra = {})
      : d([&] {
          { std::ofstream(dir.path + "/token") << kube_token << "\n"; }
          std::map<std::string, std::string> env = {
              {"BERTH_EXECUTOR", "kubernetes"},
              {"BERTH_KUBE_API", api.base()},
              {"BERTH_KUBE_TOKEN_FILE", dir.path + "/token"},
              {"BERTH_KUBE_CA_FILE", api.ca_file()},  // the fake serves TLS: verified against this
              {"BERTH_KUBE_NAMESPACE", "berth"},
              {"BERTH_GATEWAY_ADVERTISE", "berth-gateway:8120"},
              {"BERTH_GATEWAY_DIR", dir.path},
              {"BERTH_RECONCILE_S", "1"},
          };
          for (const auto& [k, v] : extra) env[k] = v;
          return env;
        }()) {}
  std::vector<kube_request> sent(const std::string& method, const std::string& part) {
    std::vector<kube_request> out;
    for (auto& r : api.requests())
      if (r.method == method && r.path.find(part) != std::string::npos) out.push_back(r);
    return out;
  }
  bool nothing_left() { return api.job_count() == 0 && api.secret_count() == 0 && api.running_pods() == 0; }
};
}  // namespace

TEST_CASE("kubernetes executor: a run is a Job and a Secret it owns with the documented bodies - streams live from the "
          "pod's log - records its node - exit 0 is succeeded - Job and Secret are deleted", "[integration][kubernetes]") {
  berth_on_kube k;
  api_client api(k.d.port(), test_key);
  std::string id;
  bool live = false;
  api.stream("POST", "/api/v1/runs", script_run("ticks", {{"count", 12}}).dump(), {}, [&](const sse_event& e) {
    if (id.empty()) id = e.json()["run"];
    if (e.type == "text" && e.json()["text"] == "tick 3 ") live = api.get("/api/v1/runs/" + id).json()["status"] == "running";
    return e.type != "done";
  });
  CHECK(live);
  auto run = api.get("/api/v1/runs/" + id).json();
  INFO(run.dump());
  CHECK(run["status"] == "succeeded");
  CHECK(run["exit_code"] == 0);
  CHECK(run["worker_node"] == "fake-node-1");
  auto evs = stored_events(api, id);
  CHECK(spelled(evs) == ticks_said(12));
  CHECK(ids_contiguous(evs));

  // The Job: tried once, never restarted, the run's timeout as its deadline, a TTL, hardened, labelled.
  auto jobs = k.sent("POST", "/apis/batch/v1/namespaces/berth/jobs");
  REQUIRE(jobs.size() == 1);
  const auto& job = jobs[0].body;
  CHECK(job["metadata"]["name"] == kube::job_name(id));
  CHECK(job["metadata"]["labels"]["berth.run"] == id);
  CHECK(job["spec"]["backoffLimit"] == 0);
  CHECK(job["spec"]["activeDeadlineSeconds"] == 1800);
  CHECK(job["spec"]["ttlSecondsAfterFinished"].get<int>() > 0);
  CHECK(job["spec"]["template"]["metadata"]["labels"]["berth.role"] == "worker");  // the NetworkPolicy's selector
  const auto& pod = job["spec"]["template"]["spec"];
  CHECK(pod["restartPolicy"] == "Never");
  CHECK(pod["automountServiceAccountToken"] == false);
  const auto& c = pod["containers"][0];
  CHECK(pod["securityContext"]["runAsNonRoot"] == true);
  CHECK(pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault");
  CHECK(c["securityContext"]["readOnlyRootFilesystem"] == true);
  CHECK(c["securityContext"]["allowPrivilegeEscalation"] == false);
  CHECK(c["securityContext"]["capabilities"]["drop"] == json::array({"ALL"}));
  CHECK(c["resources"]["limits"].contains("memory"));
  // The Secret: created after the Job, owned by it (the uid the API gave the Job), holding the task — with the
  // run's gateway token, never a real credential.
  auto secrets = k.sent("POST", "/api/v1/namespaces/berth/secrets");
  REQUIRE(secrets.size() == 1);
  const auto& owner = secrets[0].body["metadata"]["ownerReferences"][0];
  CHECK(owner["kind"] == "Job");
  CHECK(owner["name"] == kube::job_name(id));
  CHECK(owner["uid"].get<std::string>().starts_with("uid-"));
  // Deleted once `done` is stored, with background propagation (the pod goes too).
  CHECK(eventually([&] { return k.nothing_left(); }, 10s));
  auto deletes = k.sent("DELETE", "/jobs/" + kube::job_name(id));
  REQUIRE(!deletes.empty());
  CHECK(deletes[0].path.find("propagationPolicy=Background") != std::string::npos);
}

TEST_CASE("kubernetes executor: exit codes - the Job's deadline - cancel deletes the Job", "[integration][kubernetes]") {
  berth_on_kube k;
  api_client api(k.d.port(), test_key);
  auto failing = api.start_run(script_run("fail"));
  auto late = api.start_run(script_run("silent", {{"timeout_s", 3}}));
  auto cancelled = api.start_run(script_run("silent"));

  auto f = api.wait_done(failing);
  CHECK(f["status"] == "failed");
  CHECK(f["exit_code"] == 3);
  CHECK(f["reason"].get<std::string>().find("scripted failure") != std::string::npos);

  auto t = api.wait_done(late);
  CHECK(t["status"] == "timed_out");
  CHECK(t["reason"].get<std::string>().find("3 s") != std::string::npos);
  auto late_job = k.sent("POST", "/jobs");
  bool deadline_sent = false;
  for (const auto& r : late_job) deadline_sent |= r.body["spec"]["activeDeadlineSeconds"] == 3;
  CHECK(deadline_sent);

  INFO(api.get("/api/v1/runs/" + cancelled).body);
  REQUIRE(eventually([&] { return k.api.running_pods() == 1; }, 10s));  // the third is running
  CHECK(api.del("/api/v1/runs/" + cancelled).status == 202);
  CHECK(api.wait_done(cancelled)["status"] == "cancelled");
  CHECK(!k.sent("DELETE", "/jobs/" + kube::job_name(cancelled)).empty());
  CHECK(eventually([&] { return k.nothing_left(); }, 10s));
}

TEST_CASE("kubernetes executor: kill -9 of berthd mid-run - the pod's log is followed again from the stored offsets - "
          "every event exactly once", "[integration][kubernetes]") {
  berth_on_kube k;
  api_client api(k.d.port(), test_key);
  std::string id;
  int seen = 0;
  api.stream("POST", "/api/v1/runs", script_run("ticks", {{"count", 24}}).dump(), {}, [&](const sse_event& e) {
    if (id.empty()) id = e.json()["run"];
    if (e.type == "text" && ++seen == 5) {
      k.d.kill9();
      return false;
    }
    return true;
  });
  REQUIRE(!k.d.running());
  CHECK(k.api.running_pods() == 1);  // the pod runs on without berthd
  k.d.restart();
  api_client again(k.d.port(), test_key);
  CHECK(again.wait_done(id)["status"] == "succeeded");
  auto evs = stored_events(again, id);
  CHECK(spelled(evs) == ticks_said(24));
  CHECK(ids_contiguous(evs));
  CHECK(count_type(evs, "started") == 1);
  CHECK(count_type(evs, "result") == 1);
  CHECK(eventually([&] { return k.nothing_left(); }, 10s));
}

TEST_CASE("kubernetes executor: the API answers 409 (replaced), 500 (the run fails saying so) or nothing in time (the "
          "run waits in the queue, then runs) - leftover Jobs are swept", "[integration][kubernetes]") {
  berth_on_kube k({{"BERTH_KUBE_TIMEOUT_S", "2"}});
  api_client api(k.d.port(), test_key);

  k.api.fail_next("POST", "/jobs", 409);
  auto replaced = api.start_run(script_run("ticks", {{"count", 2}}));
  CHECK(api.wait_done(replaced)["status"] == "succeeded");

  k.api.fail_next("POST", "/jobs", 500);
  auto refused = api.start_run(script_run("ticks", {{"count", 2}}));
  auto r = api.wait_done(refused);
  CHECK(r["status"] == "failed");
  CHECK(r["reason"].get<std::string>().find("500") != std::string::npos);
  CHECK(r["reason"].get<std::string>().find("injected failure") != std::string::npos);

  k.api.hang_next("POST", "/jobs", 4s);  // past BERTH_KUBE_TIMEOUT_S
  auto waited = api.start_run(script_run("ticks", {{"count", 2}}));
  auto w = api.wait_done(waited);
  CHECK(w["status"] == "succeeded");
  auto evs = stored_events(api, waited);
  bool requeued = false;
  for (const auto& e : evs) requeued |= e.type == "status" && e.json()["status"] == "queued" && e.json().contains("reason");
  CHECK(requeued);

  // A Job of this instance that no run owns (a database restored from backup, a crash): the reconciler deletes it.
  json leftover = {{"apiVersion", "batch/v1"}, {"kind", "Job"},
                   {"metadata", {{"name", "berth-run-orphan"}, {"labels", {{"berth.instance", k.d.instance()}, {"berth.run", "01ORPHAN"}}}}},
                   {"spec", json::object()}};
  k.api.put_job(leftover);
  CHECK(eventually([&] { return k.api.job("berth-run-orphan").is_null(); }, 10s));
  CHECK(eventually([&] { return k.nothing_left(); }, 10s));
}

TEST_CASE("kubernetes executor: an API server whose certificate berthd does not trust is not talked to", "[integration][kubernetes]") {
  berth_on_kube k({{"BERTH_KUBE_CA_FILE", "/etc/ssl/certs/ca-certificates.crt"}});
  api_client api(k.d.port(), test_key);
  auto health = api.get("/health").json();
  INFO(health.dump());
  CHECK(health["docker"]["ok"] == false);  // the engine's place in /health: here the Kubernetes API
  CHECK(health["docker"]["error"].get<std::string>().find("did not answer") != std::string::npos);
  auto id = api.start_run(script_run("ticks", {{"count", 1}}));
  CHECK(api.get("/api/v1/runs/" + id).json()["status"] == "queued");  // waits for an API it can trust
  CHECK(k.sent("POST", "/jobs").empty());
}

TEST_CASE("kubernetes executor: the node goes away mid-run - the run ends lost with the pod's reason - berthd keeps serving",
          "[integration][kubernetes]") {
  berth_on_kube k;
  api_client api(k.d.port(), test_key);
  auto id = api.start_run(script_run("ticks", {{"count", 400}}));
  REQUIRE(eventually([&] { return api.get("/api/v1/runs/" + id).json()["events"].get<int>() >= 5; }, 10s));
  k.api.lose_node();
  auto done = api.wait_done(id);
  INFO(done.dump());
  CHECK(done["status"] == "lost");
  CHECK(done["reason"].get<std::string>().find("NodeLost") != std::string::npos);
  auto next = api.start_run(script_run("ticks", {{"count", 2}}));
  CHECK(api.wait_done(next)["status"] == "succeeded");
  CHECK(eventually([&] { return k.nothing_left(); }, 10s));
}
