// The bodies berth sends to a Kubernetes API server for one run, and how it reads what comes back — pure
// functions, shapes from the Kubernetes API reference (batch/v1 Job, core/v1 Secret and Pod). One Job per run:
// backoffLimit 0 and restartPolicy Never (a run is tried once; berth, not Kubernetes, decides what a failure
// means), activeDeadlineSeconds from the run's timeout, ttlSecondsAfterFinished so a Job berth could not
// delete still goes; the task in a Secret the Job owns (deleted with it), mounted read-only where
// BERTH_TASK_FILE points; the worker hardened as on Docker (non-root, read-only root, no capabilities,
// RuntimeDefault seccomp, no service account token, memory and CPU limits). Kubernetes has no per-pod pid
// limit in the pod spec (it is the kubelet's podPidsLimit): the operator sets it on the nodes.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace berth::kube {

struct job_params {
  std::string name;       // job_name(run)
  std::string space;      // the namespace
  std::string image;
  std::map<std::string, std::string> labels;  // berth.instance, berth.run, berth.user (values made label-safe)
  std::int64_t memory = 1LL << 30;
  double cpus = 1.0;
  int deadline_s = 1800;  // activeDeadlineSeconds: the run's timeout
  int ttl_s = 600;        // ttlSecondsAfterFinished
  std::string secret;     // the Secret holding the task
  std::string tmp_size = "256Mi";
  std::string home_size = "256Mi";
  std::string workspace_claim;  // a PersistentVolumeClaim for /workspace ("" → an emptyDir: nothing kept)
};

constexpr const char* task_mount = "/run/berth/task";
// On every worker pod (value "worker"): deploy/kubernetes/networkpolicy.yaml lets such pods reach only the gateway.
constexpr const char* worker_role_label = "berth.role";
constexpr const char* task_key = "task.json";

// DNS-1123 names: lowercase; berth's run ids are upper-case ULIDs.
std::string job_name(const std::string& run_id);
std::string secret_name(const std::string& run_id);
// A label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric (others become '_').
std::string label_value(const std::string& v);

nlohmann::json job_body(const job_params& p);
// The task line in a Secret owned by the Job (uid from the Job's creation answer), so deleting the Job or its
// TTL removes it too. Immutable: nothing changes a run's task once written.
nlohmann::json task_secret_body(const std::string& name, const std::string& space, const std::map<std::string, std::string>& labels,
                                const std::string& task_line, const std::string& job, const std::string& job_uid);

// What a run's pod and Job say about its end.
struct pod_end {
  bool ended = false;        // terminal for berth (the run ends now)
  std::optional<int> exit_code;
  bool oom_killed = false;
  bool deadline = false;     // the Job's activeDeadlineSeconds passed
  bool lost = false;         // the pod or its node went away: no exit code will come
  std::string reason;        // for the run's reason when not an ordinary exit
};
// `job` and `pod` as the API returns them (pod may be null: none yet, or deleted).
pod_end read_end(const nlohmann::json& job, const nlohmann::json& pod);

}  // namespace berth::kube
