#include "server/kube/job_spec.hpp"

#include <cctype>
#include <cmath>

#include "common/base64.hpp"
#include "common/json_bounded.hpp"
#include "common/strings.hpp"

namespace berth::kube {
namespace {
using json = nlohmann::json;

json labels_json(const std::map<std::string, std::string>& labels) {
  json out = json::object();
  for (const auto& [k, v] : labels) out[k] = label_value(v);
  return out;
}

// Quantities in the API's own notation: bytes as a plain integer, CPUs in millicores.
std::string millicores(double cpus) { return std::to_string(static_cast<long long>(std::llround(cpus * 1000))) + "m"; }

// The first container status of the worker, or null.
const json* worker_status(const json& pod) {
  if (!pod.is_object()) return nullptr;
  auto st = pod.find("status");
  if (st == pod.end() || !st->is_object()) return nullptr;
  auto cs = st->find("containerStatuses");
  if (cs == st->end() || !cs->is_array()) return nullptr;
  for (const auto& c : *cs)
    if (c.is_object() && c.value("name", "") == "worker") return &c;
  return nullptr;
}

}  // namespace

std::string job_name(const std::string& run_id) { return "berth-run-" + ascii_lower(run_id); }
std::string secret_name(const std::string& run_id) { return "berth-task-" + ascii_lower(run_id); }

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v.substr(0, 63)) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.front()))) out.erase(out.begin());
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

json job_body(const job_params& p) {
  const json labels = labels_json(p.labels);
  json pod_labels = labels;
  pod_labels[worker_role_label] = "worker";  // what deploy/kubernetes' NetworkPolicy selects
  json volumes = json::array({
      {{"name", "task"}, {"secret", {{"secretName", p.secret}, {"defaultMode", 0440}}}},
      {{"name", "tmp"}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", p.tmp_size}}}},
      {{"name", "home"}, {"emptyDir", {{"medium", "Memory"}, {"sizeLimit", p.home_size}}}},
  });
  if (p.workspace_claim.empty()) volumes.push_back({{"name", "workspace"}, {"emptyDir", json::object()}});
  else volumes.push_back({{"name", "workspace"}, {"persistentVolumeClaim", {{"claimName", p.workspace_claim}}}});
  json container = {
      {"name", "worker"},
      {"image", p.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"workingDir", "/workspace"},
      {"env", json::array({{{"name", "BERTH_TASK_FILE"}, {"value", std::string(task_mount) + "/" + task_key}},
                           {{"name", "HOME"}, {"value", "/home/worker"}}})},
      {"resources",
       {{"limits", {{"memory", std::to_string(p.memory)}, {"cpu", millicores(p.cpus)}}},
        {"requests", {{"memory", std::to_string(p.memory)}, {"cpu", millicores(p.cpus)}}}}},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"privileged", false},
        {"capabilities", {{"drop", json::array({"ALL"})}}}}},
      {"volumeMounts", json::array({{{"name", "task"}, {"mountPath", task_mount}, {"readOnly", true}},
                                    {{"name", "tmp"}, {"mountPath", "/tmp"}},
                                    {{"name", "home"}, {"mountPath", "/home/worker"}},
                                    {{"name", "workspace"}, {"mountPath", "/workspace"}}})},
  };
  return {
      {"apiVersion", "batch/v1"},
      {"kind", "Job"},
      {"metadata", {{"name", p.name}, {"namespace", p.space}, {"labels", labels}}},
      {"spec",
       {{"backoffLimit", 0},
        {"activeDeadlineSeconds", p.deadline_s},
        {"ttlSecondsAfterFinished", p.ttl_s},
        {"template",
         {{"metadata", {{"labels", pod_labels}}},
          {"spec",
           {{"restartPolicy", "Never"},
            {"automountServiceAccountToken", false},
            {"enableServiceLinks", false},
            {"securityContext",
             {{"runAsNonRoot", true},
              {"runAsUser", 1000},
              {"runAsGroup", 1000},
              {"fsGroup", 1000},
              {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
            {"containers", json::array({container})},
            {"volumes", volumes}}}}}}},
  };
}

json task_secret_body(const std::string& name, const std::string& space, const std::map<std::string, std::string>& labels,
                      const std::string& task_line, const std::string& job, const std::string& job_uid) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       {{"name", name},
        {"namespace", space},
        {"labels", labels_json(labels)},
        {"ownerReferences", json::array({{{"apiVersion", "batch/v1"},
                                          {"kind", "Job"},
                                          {"name", job},
                                          {"uid", job_uid},
                                          {"blockOwnerDeletion", false}}})}}},
      {"type", "Opaque"},
      {"immutable", true},
      {"data", {{task_key, base64_encode(task_line)}}},
  };
}

pod_end read_end(const json& job, const json& pod) {
  pod_end e;
  // The Job first: a deadline ends the run even while the pod is still being killed.
  if (job.is_object() && job.contains("status") && job["status"].is_object()) {
    const auto& conds = job["status"].value("conditions", json::array());
    if (conds.is_array())
      for (const auto& c : conds) {
        if (!c.is_object() || string_at(c, "type") != "Failed" || string_at(c, "status") != "True") continue;
        if (string_at(c, "reason") == "DeadlineExceeded") {
          e.ended = e.deadline = true;
          e.reason = "the Job's deadline passed";
          return e;
        }
      }
  }
  if (const json* c = worker_status(pod)) {
    const json st = c->value("state", json::object());
    if (st.is_object() && st.contains("terminated") && st["terminated"].is_object()) {
      const auto& t = st["terminated"];
      e.ended = true;
      if (t.contains("exitCode") && t["exitCode"].is_number_integer()) e.exit_code = t["exitCode"].get<int>();
      e.oom_killed = string_at(t, "reason") == "OOMKilled";
      if (!e.exit_code) {
        e.lost = true;
        e.reason = "the worker ended without an exit code (" + string_at(t, "reason") + ")";
      }
      return e;
    }
    if (st.is_object() && st.contains("waiting") && st["waiting"].is_object()) {
      // The container never starts: an image that cannot be pulled, a bad config.
      const std::string why = string_at(st["waiting"], "reason");
      if (why == "ErrImagePull" || why == "ImagePullBackOff" || why == "InvalidImageName" || why == "CreateContainerConfigError" ||
          why == "CreateContainerError") {
        e.ended = true;
        e.reason = "the worker could not start: " + why + (string_at(st["waiting"], "message").empty() ? "" : ": " + string_at(st["waiting"], "message"));
        return e;
      }
    }
  }
  if (pod.is_object() && pod.contains("status") && pod["status"].is_object()) {
    const auto& s = pod["status"];
    const std::string phase = string_at(s, "phase");
    // Evicted, a node that shut down or vanished: the pod failed with no container exit to read.
    if (phase == "Failed" || phase == "Unknown") {
      e.ended = e.lost = true;
      e.reason = "the worker's pod " + (phase == "Unknown" ? std::string("lost contact with its node") : "failed") +
                 (string_at(s, "reason").empty() ? "" : " (" + string_at(s, "reason") + ")") +
                 (string_at(s, "message").empty() ? "" : ": " + string_at(s, "message"));
      return e;
    }
  }
  return e;
}

}  // namespace berth::kube
