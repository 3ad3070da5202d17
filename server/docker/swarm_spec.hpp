// The bodies berth sends to a Swarm manager (Engine API 1.41) for one run, and how it reads a task's end —
// pure functions. One service per run in ReplicatedJob mode (MaxConcurrent 1, TotalCompletions 1, restart
// condition none: a run is tried once; a Replicated service of 1 on managers before Docker 24), hardened like a local worker (read-only root, CapabilityDrop ALL,
// pids, memory and CPU limits, non-root, init, nofile ulimit, bounded json-file logs), placed by the
// operator's constraints, attached to the network on which the gateway listens. Services have no stdin: the
// task goes in a per-run secret, mounted at /run/secrets/<name> (0400, the worker's uid) where
// BERTH_TASK_FILE points, and removed with the service. Not settable through API 1.41: no-new-privileges
// (ContainerSpec.Privileges has no such field before 1.44) — the worker image carries no setuid binaries.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::docker {

struct swarm_job_params {
  std::string name;        // the service's name: swarm_service_name(run)
  std::string image;
  std::map<std::string, std::string> labels;
  std::vector<std::string> env;
  std::int64_t memory = 1LL << 30;
  double cpus = 1.0;
  std::int64_t pids = 256;
  std::int64_t nofile = 1024;
  std::vector<std::string> constraints;  // BERTH_SWARM_CONSTRAINTS, e.g. node.labels.berth==worker
  std::string network;                   // the attachable overlay network the gateway listens on
  std::string secret_id, secret_name;    // the task
  std::string workspace_volume;          // "" a tmpfs (a named volume is local to whichever node runs the task)
  std::int64_t scratch_bytes = 256LL << 20;  // each tmpfs: /tmp, the home, a tmpfs workspace
  std::string log_max_size = "20m";
  int log_max_files = 2;
  int stop_grace_s = 5;
  // ReplicatedJob (MaxConcurrent 1, TotalCompletions 1) where the manager removes a job's tasks with it —
  // Docker 24 (API 1.43) and later. Docker 20.10 leaves them (moby#42789, #44312): a removed job's running task
  // runs on and every finished one leaves its container on its node. There a Replicated service of 1 with
  // restart condition none runs the worker once just the same, and is removed with its task.
  bool job_mode = true;
};
// Whether a manager speaking `api_version` ("1.41") removes a job service's tasks with it.
bool swarm_removes_job_tasks(const std::string& api_version);

std::string swarm_service_name(const std::string& run_id);  // berth-run-<id>
std::string swarm_secret_name(const std::string& run_id);   // berth-task-<id>

nlohmann::json swarm_service_body(const swarm_job_params& p);
nlohmann::json swarm_secret_body(const std::string& name, const std::map<std::string, std::string>& labels,
                                 const std::string& task_line);

// What a run's task says about its end. `node_down`: the manager reports the task's node down.
struct swarm_task_end {
  bool ended = false;
  std::optional<int> exit_code;
  bool lost = false;      // no exit code will come: the node went away, or the swarm gave the task up
  bool rejected = false;  // the swarm could not start it (no node fits, image missing): the run failed
  std::string reason;
  std::string node;       // the task's node id, once assigned
};
swarm_task_end read_swarm_task(const nlohmann::json& task, bool node_down);

}  // namespace berth::docker
