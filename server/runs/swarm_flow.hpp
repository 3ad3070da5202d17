// One run as a Docker Swarm service (BERTH_EXECUTOR=swarm; BERTH_DOCKER_HOST is a manager): the task goes in a
// per-run secret, the worker in a ReplicatedJob service (server/docker/swarm_spec), hardened like a local one,
// on the internal overlay where it reaches berthd's gateway with its run token. Its output is followed through
// the service's logs while its task is polled every second; when the task has ended the logs are read once
// more without follow and what lies past the bytes already consumed is fed too (a followed stream neither ends
// with the task nor is guaranteed to have caught up with it). After a restart the same follow skips the stored
// offsets. Cancel and timeouts remove the service. Service and secret are removed at the end of every run,
// and the reconciler sweeps any left by a crash (reconcile_swarm).
#pragma once
#include <map>
#include <string>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"
#include "server/docker/swarm_spec.hpp"
#include "server/runs/run_steps.hpp"

namespace berth::runs {

// What prepare_swarm learned of the manager.
struct swarm_setup {
  bool job_mode = true;  // ReplicatedJob services (swarm_spec.hpp: not before Docker 24)
};

class swarm_flow : public run_steps {
 public:
  swarm_flow(const config& c, docker::docker_client& manager, swarm_setup setup, journal& j, const std::string& instance,
             docker_executor::active_run& a, store::run_record rec, std::function<void()> release, token_registry& tokens);

 private:
  docker::unix_stream begin_fresh() override;
  docker::unix_stream resume() override;
  void stop_worker() override;   // removes the service: the swarm stops its task
  bool worker_ended() override;  // the task's state (and its node's); records the node it runs on
  void after_output(docker::unix_stream& s, output_pump& p) override;  // drain()
  void drain(output_pump& p);    // the logs once more, without follow, past what was consumed
  void finalize(output_pump& p) override;
  void remove_worker() override;  // the service and the secret, by name too (a crash may not have stored them)
  const char* engine_name() const override { return "swarm"; }
  std::map<std::string, std::string> labels() const;

  docker::docker_client& manager_;
  swarm_setup setup_;
  const std::string& instance_;
  std::string service_;  // its ID once created (or found again after a restart)
  std::string node_id_;  // the node its task was given to
  std::string node_name_;
  docker::swarm_task_end end_;
};

// Before the first run: the manager is one (a worker node cannot create services), and the workers' overlay
// exists — made internal and attachable when missing. Throws with what to do otherwise.
swarm_setup prepare_swarm(const config& c, docker::docker_client& manager, const std::string& instance);

// Services and secrets of this instance whose run has ended or that no run owns (a crash between creating
// them and storing the run's end; a database that was reset): removed. Returns how many.
int reconcile_swarm(docker::docker_client& manager, store::store& db, const executor& exec, const std::string& instance);

}  // namespace berth::runs
