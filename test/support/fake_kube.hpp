// A stand-in for the Kubernetes API server, for the kubernetes executor tests: no API server can run on these
// machines. It speaks the few endpoints berth uses, with the shapes of the Kubernetes API reference (batch/v1
// Job, core/v1 Secret, Pod and its log, metav1 Status for errors), on 127.0.0.1 over TLS with a certificate
// made for the test (ca_file(): what berthd must trust), and demands the bearer token it was given (401
// otherwise). Like a cluster it makes one pod per Job and runs it:
// its "kubelet" waits for the pod's Secret (as a real one waits to mount it), writes the Secret's task to a
// file and runs the real berth-worker binary with BERTH_TASK_FILE pointing at it; the process's output is the
// pod's log (stdout and stderr together, as Kubernetes keeps them), its exit the container's terminated
// state, the Job's conditions follow (Complete, Failed, DeadlineExceeded after activeDeadlineSeconds).
// Deleting a Job kills its pod and, as the garbage collector would, deletes the Secrets it owns. Its one node
// can be lost. Faults can be
// injected: the next matching request answers a given status, or answers nothing for a while.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace httplib { class Server; }

namespace berth::test {

struct kube_request {
  std::string method;
  std::string path;  // with its query
  nlohmann::json body;
};

class fake_kube {
 public:
  explicit fake_kube(std::string token, std::string space = "berth");
  ~fake_kube();
  fake_kube(const fake_kube&) = delete;
  fake_kube& operator=(const fake_kube&) = delete;

  std::string base() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string& ca_file() const { return cert_; }
  // The next request of `method` whose path contains `part` answers `status` (a Status body)…
  void fail_next(const std::string& method, const std::string& part, int status);
  // … or is held for `d` before it is served (longer than berthd's timeout: no answer in time).
  void hang_next(const std::string& method, const std::string& part, std::chrono::milliseconds d);
  // A Job as if left by someone (a crash): its pod is not run.
  void put_job(const nlohmann::json& job);
  std::vector<kube_request> requests();
  nlohmann::json job(const std::string& name);     // null: none
  nlohmann::json secret(const std::string& name);  // null: none
  std::size_t job_count();
  std::size_t secret_count();
  std::size_t running_pods();  // worker processes alive
  // The node goes away: its pods' processes die with it, the pods' phase becomes Unknown (NodeLost) with their
  // last reported state kept, and their logs can no longer be read.
  void lose_node();

 private:
  struct pod;
  struct fault {
    std::string method, part;
    int status = 0;
    std::chrono::milliseconds hang{0};
  };
  void routes();
  void kubelet(std::shared_ptr<pod> p);
  nlohmann::json pod_json(const pod& p);  // under m_
  void delete_job(const std::string& name);

  std::string token_;
  std::string space_;
  std::string dir_, cert_, key_;  // the server's self-signed certificate (for 127.0.0.1) and key
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;  // pod logs grew, or a pod changed
  bool closing_ = false;
  std::vector<kube_request> requests_;
  std::vector<fault> faults_;
  std::map<std::string, nlohmann::json> jobs_;
  std::map<std::string, nlohmann::json> secrets_;
  std::map<std::string, std::shared_ptr<pod>> pods_;  // by pod name
  std::vector<std::thread> kubelets_;
  int next_uid_ = 1;
};

}  // namespace berth::test
