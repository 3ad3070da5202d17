// One run as a Kubernetes Job (BERTH_EXECUTOR=kubernetes): the Job (server/kube/job_spec: backoffLimit 0,
// restartPolicy Never, activeDeadlineSeconds from the run's timeout, a TTL, hardened) is created first, then the
// task in a Secret the Job owns; the pod waits for its Secret to mount. Its output comes from
// pods/<pod>/log?follow=true, read by a follower thread that frames each piece as Docker frames its logs and
// writes them into a pipe the run's pump reads — so the pump, its limits, its offsets and its resume after a
// restart are the same as for a container. The Job and pod are polled every second for the run's end and its
// node. Cancel and timeouts delete the Job (background propagation); the Job and Secret are deleted at the end
// of every run, and the reconciler sweeps any left by a crash (reconcile_kube).
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/kube/job_spec.hpp"
#include "server/kube/kube_client.hpp"
#include "server/runs/run_steps.hpp"

namespace berth::runs {

class kube_flow : public run_steps {
 public:
  kube_flow(const config& c, kube::kube_client& api, journal& j, const std::string& instance, docker_executor::active_run& a,
            store::run_record rec, std::function<void()> release, token_registry& tokens);
  ~kube_flow() override;

 private:
  docker::unix_stream begin_fresh() override;
  docker::unix_stream resume() override;
  void stop_worker() override;   // deletes the Job: Kubernetes stops its pod
  bool worker_ended() override;  // the Job's and pod's state; records the pod's node
  void after_output(docker::unix_stream& s, output_pump& p) override;  // the log's last pieces
  void finalize(output_pump& p) override;
  void remove_worker() override;  // stops following; deletes the Job and the Secret
  void delete_job_and_secret();
  const char* engine_name() const override { return "kubernetes"; }
  docker::unix_stream follow();  // starts the follower thread; its pipe's read end
  void follow_loop(int out_fd);
  std::string job_path() const;

  kube::kube_client& api_;
  const std::string& instance_;
  const std::string job_;
  kube::pod_end end_;
  std::string node_;
  struct follower_state;
  std::shared_ptr<follower_state> follower_;
  std::jthread follower_thread_;
};

// Jobs and Secrets of this instance whose run has ended or that no run owns: deleted. Returns how many.
int reconcile_kube(kube::kube_client& api, store::store& db, const executor& exec, const std::string& instance);

}  // namespace berth::runs
