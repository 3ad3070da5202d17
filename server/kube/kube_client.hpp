// The few Kubernetes API calls berth makes (BERTH_EXECUTOR=kubernetes), over cpp-httplib: create, read, list
// and delete Jobs, Secrets and Pods in one namespace, and follow a pod's log. Where the API server is and how
// berth proves who it is (kube_target) comes from the pod's service account when berthd runs in the cluster,
// or from a kubeconfig in JSON (`kubectl config view --raw --minify -o json`: YAML needs a parser berth does
// not carry, and JSON is what kubectl prints on request). Errors are the engine error type run_steps already
// knows (status 0: the API server did not answer, so an outage is waited out as Docker's is).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "server/docker/docker_error.hpp"

namespace berth::kube {

using kube_error = docker::docker_error;

struct kube_target {
  std::string server;     // scheme://host:port
  std::string token;      // a bearer token (secret: never logged)
  std::string ca_file;    // PEM bundle that signs the server's certificate ("" the system's)
  std::string ca_pem;     // or the bundle itself (a kubeconfig's certificate-authority-data, decoded)
  std::string space;      // the namespace runs go into
  int timeout_s = 30;     // one call, connection included
};

// From BERTH_KUBE_* settings, else the kubeconfig (BERTH_KUBECONFIG), else the in-cluster service account.
// Throws with what is missing.
kube_target target_from(const config& c);
// A kubeconfig as JSON: the current context's cluster, user token and namespace. Pure.
std::optional<kube_target> target_from_kubeconfig(const nlohmann::json& kubeconfig, std::string& why);

class kube_client {
 public:
  explicit kube_client(kube_target t);
  const std::string& space() const { return t_.space; }
  std::string jobs_path() const;     // /apis/batch/v1/namespaces/<ns>/jobs
  std::string secrets_path() const;  // /api/v1/namespaces/<ns>/secrets
  std::string pods_path() const;     // /api/v1/namespaces/<ns>/pods

  nlohmann::json create(const std::string& collection, const nlohmann::json& body);  // 409 throws (status 409)
  nlohmann::json get(const std::string& path);                                       // null on 404
  nlohmann::json list(const std::string& collection, const std::string& label_selector);  // its items
  void remove(const std::string& path);  // with propagationPolicy=Background; 404 is fine
  std::string version();                  // GET /version: the server's gitVersion (the health probe)
  const kube_target& target() const { return t_; }

 private:
  kube_target t_;
};

// Follows one pod's log (container `worker`, follow=true), stoppable from another thread.
class log_follow {
 public:
  explicit log_follow(const kube_client& api);
  ~log_follow();
  log_follow(const log_follow&) = delete;
  log_follow& operator=(const log_follow&) = delete;
  // Piece by piece until the log ends (the container exited), `piece` returns false, stop() is called, or the
  // server fails. Returns the HTTP status (0: no answer); 400 means the container has not started yet.
  int run(const std::string& pod, const std::function<bool(std::string_view)>& piece);
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

}  // namespace berth::kube
