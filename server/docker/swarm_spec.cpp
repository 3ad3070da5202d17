#include "server/docker/swarm_spec.hpp"

#include <cmath>

#include "common/base64.hpp"
#include "common/json_bounded.hpp"
#include "common/strings.hpp"

namespace berth::docker {
namespace {
using json = nlohmann::json;


json tmpfs(const std::string& target, std::int64_t bytes) {
  return {{"Type", "tmpfs"}, {"Target", target}, {"TmpfsOptions", {{"SizeBytes", bytes}, {"Mode", 01777}}}};
}
}  // namespace

std::string swarm_service_name(const std::string& run_id) { return "berth-run-" + ascii_lower(run_id); }
std::string swarm_secret_name(const std::string& run_id) { return "berth-task-" + ascii_lower(run_id); }

json swarm_service_body(const swarm_job_params& p) {
  json env = p.env;
  env.push_back("BERTH_TASK_FILE=/run/secrets/" + p.secret_name);
  env.push_back("HOME=/home/worker");
  json mounts = json::array({tmpfs("/tmp", p.scratch_bytes), tmpfs("/home/worker", p.scratch_bytes)});
  if (!p.workspace_volume.empty())
    mounts.push_back({{"Type", "volume"}, {"Source", p.workspace_volume}, {"Target", "/workspace"}});
  else
    mounts.push_back(tmpfs("/workspace", p.scratch_bytes));
  json task = {
      {"ContainerSpec",
       {{"Image", p.image},
        {"Labels", p.labels},
        {"Env", env},
        {"Dir", "/workspace"},
        {"User", "1000:1000"},
        {"ReadOnly", true},
        {"Init", true},
        {"CapabilityDrop", json::array({"ALL"})},
        {"Ulimits", json::array({{{"Name", "nofile"}, {"Soft", p.nofile}, {"Hard", p.nofile}}})},
        {"StopGracePeriod", static_cast<std::int64_t>(p.stop_grace_s) * 1'000'000'000},
        {"Mounts", mounts},
        {"Secrets", json::array({{{"File", {{"Name", p.secret_name}, {"UID", "1000"}, {"GID", "1000"}, {"Mode", 0400}}},
                                  {"SecretID", p.secret_id},
                                  {"SecretName", p.secret_name}}})}}},
      {"Resources",
       {{"Limits", {{"MemoryBytes", p.memory}, {"NanoCPUs", static_cast<std::int64_t>(std::llround(p.cpus * 1e9))}, {"Pids", p.pids}}}}},
      {"RestartPolicy", {{"Condition", "none"}, {"MaxAttempts", 0}}},
      {"Placement", {{"Constraints", p.constraints}}},
      {"LogDriver", {{"Name", "json-file"}, {"Options", {{"max-size", p.log_max_size}, {"max-file", std::to_string(p.log_max_files)}}}}},
  };
  if (!p.network.empty()) task["Networks"] = json::array({{{"Target", p.network}}});
  return {
      {"Name", p.name},
      {"Labels", p.labels},
      {"TaskTemplate", task},
      {"Mode", p.job_mode ? json{{"ReplicatedJob", {{"MaxConcurrent", 1}, {"TotalCompletions", 1}}}}
                          : json{{"Replicated", {{"Replicas", 1}}}}},
  };
}

bool swarm_removes_job_tasks(const std::string& api_version) {
  auto dot = api_version.find('.');
  if (dot == std::string::npos) return false;
  auto major = parse_int(api_version.substr(0, dot)), minor = parse_int(api_version.substr(dot + 1));
  return major && minor && (*major > 1 || (*major == 1 && *minor >= 43));
}

json swarm_secret_body(const std::string& name, const std::map<std::string, std::string>& labels, const std::string& task_line) {
  return {{"Name", name}, {"Labels", labels}, {"Data", base64_encode(task_line)}};
}

swarm_task_end read_swarm_task(const json& task, bool node_down) {
  swarm_task_end e;
  e.node = string_at(task, "NodeID");
  const json status = task.is_object() && task.contains("Status") && task["Status"].is_object() ? task["Status"] : json::object();
  const std::string state = string_at(status, "State");
  const std::string err = string_at(status, "Err");
  std::optional<int> code;
  if (status.contains("ContainerStatus") && status["ContainerStatus"].is_object()) {
    const auto& cs = status["ContainerStatus"];
    if (cs.contains("ExitCode") && cs["ExitCode"].is_number_integer()) code = cs["ExitCode"].get<int>();
  }
  if (state == "complete" || state == "failed") {
    e.ended = true;
    e.exit_code = code;
    if (!code) {
      e.lost = true;
      e.reason = "the worker's task " + state + " without an exit code" + (err.empty() ? "" : ": " + err);
    }
    return e;
  }
  if (state == "rejected") {
    e.ended = e.rejected = true;
    e.reason = "the swarm could not start the worker" + (err.empty() ? "" : ": " + err);
    return e;
  }
  if (state == "orphaned" || state == "shutdown" || state == "remove") {
    e.ended = e.lost = true;
    e.exit_code = code;
    e.reason = state == "orphaned" ? "the worker's node left the swarm" : "the swarm stopped the worker's task (" + state + ")";
    return e;
  }
  if (node_down && !e.node.empty()) {
    e.ended = e.lost = true;
    e.reason = "the worker's node " + e.node + " is down";
  }
  return e;
}

}  // namespace berth::docker
