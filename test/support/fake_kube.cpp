#include "fake_kube.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <httplib.h>

#include "common/base64.hpp"

namespace berth::test {
namespace {
using json = nlohmann::json;
using namespace std::chrono_literals;

json status_body(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
          {"message", message}, {"reason", reason}, {"code", code}};
}

void answer(httplib::Response& res, int code, const json& body) {
  res.status = code;
  res.set_content(body.dump(), "application/json");
}

// "a=b,c=d" against an object's metadata.labels.
bool selected(const json& obj, const std::string& selector) {
  if (selector.empty()) return true;
  const json labels = obj["metadata"].value("labels", json::object());
  std::size_t from = 0;
  while (from <= selector.size()) {
    auto comma = selector.find(',', from);
    auto term = selector.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    auto eq = term.find('=');
    if (eq == std::string::npos) return false;
    if (labels.value(term.substr(0, eq), std::string("\x01")) != term.substr(eq + 1)) return false;
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return true;
}

std::string path_of(const httplib::Request& req) {
  std::string path = req.path;
  if (!req.params.empty()) {
    path += "?";
    for (const auto& [k, v] : req.params) path += k + "=" + v + "&";
    path.pop_back();
  }
  return path;
}

json list_of(const char* kind, const std::map<std::string, json>& items, const std::string& selector) {
  json out = {{"kind", kind}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", "1"}}}, {"items", json::array()}};
  for (const auto& [n, o] : items)
    if (selected(o, selector)) out["items"].push_back(o);
  return out;
}
}  // namespace

struct fake_kube::pod {
  std::string name, job, secret, uid;
  json labels;
  std::string log;
  bool started = false, ended = false, deleting = false, deadline_hit = false, node_lost = false;
  bool reaped = false;  // its kubelet thread is done with it
  int exit_code = 0;
  pid_t pid = -1;
  int deadline_s = 0;
};

namespace {
// A self-signed certificate for 127.0.0.1 (an IP subjectAltName, which the client checks) in `dir`.
void make_certificate(const std::string& dir, const std::string& cert, const std::string& key) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                          "-keyout " + key + " -out " + cert + " >" + dir + "/openssl.log 2>&1";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fake_kube: openssl could not make a certificate");
}
std::string temp_directory() {
  char tmpl[] = "/tmp/berth-fake-kube-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("fake_kube: mkdtemp failed");
  return tmpl;
}
}  // namespace

fake_kube::fake_kube(std::string token, std::string space)
    : token_(std::move(token)), space_(std::move(space)), dir_(temp_directory()), cert_(dir_ + "/cert.pem"), key_(dir_ + "/key.pem") {
  make_certificate(dir_, cert_, key_);
  server_ = std::make_unique<httplib::SSLServer>(cert_.c_str(), key_.c_str());
  if (!server_->is_valid()) throw std::runtime_error("fake_kube: the TLS server did not take its certificate");
  routes();
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

fake_kube::~fake_kube() {
  {
    std::lock_guard lock(m_);
    closing_ = true;
    for (auto& [n, p] : pods_)
      if (p->pid > 0 && !p->ended) ::kill(p->pid, SIGKILL);
  }
  cv_.notify_all();
  server_->stop();
  thread_.join();
  for (auto& t : kubelets_) t.join();
  std::filesystem::remove_all(dir_);
}

void fake_kube::fail_next(const std::string& method, const std::string& part, int status) {
  std::lock_guard lock(m_);
  faults_.push_back({method, part, status, {}});
}

void fake_kube::hang_next(const std::string& method, const std::string& part, std::chrono::milliseconds d) {
  std::lock_guard lock(m_);
  faults_.push_back({method, part, 0, d});
}

void fake_kube::put_job(const json& job) {
  std::lock_guard lock(m_);
  auto j = job;
  j["metadata"]["uid"] = "uid-left-" + std::to_string(next_uid_++);
  jobs_[j["metadata"]["name"]] = j;
}

std::vector<kube_request> fake_kube::requests() {
  std::lock_guard lock(m_);
  return requests_;
}

json fake_kube::job(const std::string& name) {
  std::lock_guard lock(m_);
  auto it = jobs_.find(name);
  return it == jobs_.end() ? json(nullptr) : it->second;
}

json fake_kube::secret(const std::string& name) {
  std::lock_guard lock(m_);
  auto it = secrets_.find(name);
  return it == secrets_.end() ? json(nullptr) : it->second;
}

std::size_t fake_kube::job_count() {
  std::lock_guard lock(m_);
  return jobs_.size();
}

std::size_t fake_kube::secret_count() {
  std::lock_guard lock(m_);
  return secrets_.size();
}

void fake_kube::lose_node() {
  std::lock_guard lock(m_);
  for (auto& [n, p] : pods_)
    if (p->started && !p->ended) {
      p->node_lost = true;
      ::kill(p->pid, SIGKILL);
    }
  cv_.notify_all();
}

std::size_t fake_kube::running_pods() {
  std::lock_guard lock(m_);
  std::size_t n = 0;
  for (const auto& [name, p] : pods_) n += p->started && !p->reaped;
  return n;
}

json fake_kube::pod_json(const pod& p) {
  json container = {{"name", "worker"}, {"ready", p.started && !p.ended}};
  std::string phase = "Pending";
  if (p.node_lost) {  // what the node last reported, and a phase nobody can vouch for
    container["state"] = {{"running", {{"startedAt", "2026-12-05T00:00:00Z"}}}};
    phase = "Unknown";
  } else if (!p.started) {
    container["state"] = {{"waiting", {{"reason", "ContainerCreating"}}}};
  } else if (!p.ended) {
    container["state"] = {{"running", {{"startedAt", "2026-12-05T00:00:00Z"}}}};
    phase = "Running";
  } else {
    container["state"] = {{"terminated", {{"exitCode", p.exit_code}, {"reason", p.exit_code == 0 ? "Completed" : "Error"}}}};
    phase = p.exit_code == 0 ? "Succeeded" : "Failed";
  }
  json status = {{"phase", phase}, {"containerStatuses", json::array({container})}};
  if (p.node_lost) {
    status["reason"] = "NodeLost";
    status["message"] = "Node fake-node-1 which was running pod " + p.name + " is unresponsive";
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", p.name}, {"namespace", space_}, {"uid", p.uid}, {"labels", p.labels}}},
          {"spec", {{"nodeName", "fake-node-1"}, {"restartPolicy", "Never"}}},
          {"status", status}};
}

void fake_kube::delete_job(const std::string& name) {  // under m_
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;
  const std::string uid = it->second["metadata"].value("uid", "");
  jobs_.erase(it);
  for (auto it = pods_.begin(); it != pods_.end();) {
    auto& p = it->second;
    if (p->job != name) { ++it; continue; }
    if (p->reaped) { it = pods_.erase(it); continue; }  // nothing runs: the pod object just goes
    p->deleting = true;
    if (p->pid > 0 && !p->ended) ::kill(p->pid, SIGTERM);
    ++it;
  }
  // The garbage collector: dependents of the deleted owner go too.
  for (auto s = secrets_.begin(); s != secrets_.end();) {
    bool owned = false;
    for (const auto& o : s->second["metadata"].value("ownerReferences", json::array())) owned |= o.value("uid", "") == uid;
    s = owned ? secrets_.erase(s) : std::next(s);
  }
  cv_.notify_all();
}

void fake_kube::kubelet(std::shared_ptr<pod> p) {
  std::unique_lock lock(m_);
  // The pod's Secret must exist before its container can start (it is mounted).
  cv_.wait(lock, [&] { return closing_ || p->deleting || secrets_.count(p->secret); });
  if (closing_ || p->deleting) {
    pods_.erase(p->name);
    return;
  }
  const json secret = secrets_[p->secret];
  std::string task = secret.contains("data") ? base64_decode(secret["data"].value("task.json", "")) : secret["stringData"].value("task.json", "");
  char tmpl[] = "/tmp/berth-fake-pod-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  { std::ofstream(dir + "/task.json") << task; }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return;
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A pod's own network namespace with only loopback up, as a real pod has (the worker's relay listens on
    // 127.0.0.1:8119 in each pod).
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(125);
    int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    ::ioctl(sock, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) ::_exit(125);
    ::close(sock);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    std::string f = "BERTH_TASK_FILE=" + dir + "/task.json", h = "HOME=" + dir;
    char* envp[] = {f.data(), h.data(), const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    char* argv[] = {const_cast<char*>(BERTH_WORKER_PATH), nullptr};
    ::execve(BERTH_WORKER_PATH, argv, envp);
    ::_exit(127);
  }
  ::close(out[1]);
  p->pid = pid;
  p->started = true;
  const auto started = std::chrono::steady_clock::now();
  cv_.notify_all();
  bool termed_at_set = false;
  std::chrono::steady_clock::time_point termed_at;
  for (;;) {
    lock.unlock();
    pollfd f{out[0], POLLIN, 0};
    ::poll(&f, 1, 100);
    char buf[8192];
    ssize_t n = (f.revents & (POLLIN | POLLHUP)) ? ::read(out[0], buf, sizeof buf) : -1;
    lock.lock();
    if (n > 0) {
      p->log.append(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
    if (n == 0) break;
    const auto now = std::chrono::steady_clock::now();
    if (p->deadline_s > 0 && !p->deadline_hit && now - started >= std::chrono::seconds(p->deadline_s)) {
      p->deadline_hit = true;  // activeDeadlineSeconds: the Job controller kills the pod
      ::kill(pid, SIGKILL);
    }
    if (p->deleting && !termed_at_set) {
      termed_at_set = true;
      termed_at = now;
    }
    if (termed_at_set && now - termed_at > 2s) ::kill(pid, SIGKILL);  // the grace period is over
  }
  ::close(out[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  p->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  p->ended = !p->node_lost;  // a lost node reports nothing more
  std::filesystem::remove_all(dir);
  if (auto j = jobs_.find(p->job); j != jobs_.end() && !p->node_lost) {
    json cond = p->deadline_hit   ? json{{"type", "Failed"}, {"status", "True"}, {"reason", "DeadlineExceeded"}}
                : p->exit_code == 0 ? json{{"type", "Complete"}, {"status", "True"}}
                                    : json{{"type", "Failed"}, {"status", "True"}, {"reason", "BackoffLimitExceeded"}};
    j->second["status"] = {{"conditions", json::array({cond})}, {p->exit_code == 0 ? "succeeded" : "failed", 1}};
  }
  p->reaped = true;
  if (p->deleting) pods_.erase(p->name);
  cv_.notify_all();
}

void fake_kube::routes() {
  auto& s = *server_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string path = path_of(req);
    std::chrono::milliseconds hang{0};
    int status = 0;
    {
      std::lock_guard lock(m_);
      for (auto f = faults_.begin(); f != faults_.end(); ++f)
        if (f->method == req.method && path.find(f->part) != std::string::npos) {
          hang = f->hang;
          status = f->status;
          faults_.erase(f);
          break;
        }
    }
    if (req.get_header_value("Authorization") != "Bearer " + token_) {
      answer(res, 401, status_body(401, "Unauthorized", "Unauthorized"));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (hang.count() > 0) std::this_thread::sleep_for(hang);
    if (status != 0) {
      answer(res, status, status_body(status, "InternalError", "injected failure " + std::to_string(status)));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Recorded once served, when the body has been read (the pre-routing handler runs before that).
  s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    const std::string path = path_of(req);
    std::lock_guard lock(m_);
    requests_.push_back({req.method, path, json::parse(req.body, nullptr, false)});
  });

  s.Get("/version", [](const httplib::Request&, httplib::Response& res) {
    answer(res, 200, {{"major", "1"}, {"minor", "30"}, {"gitVersion", "v1.30.0-fake"}});
  });

  const std::string ns = "/namespaces/" + space_;
  s.Post("/apis/batch/v1" + ns + "/jobs", [this](const httplib::Request& req, httplib::Response& res) {
    auto job = json::parse(req.body, nullptr, false);
    if (!job.is_object() || !job.contains("metadata")) return answer(res, 400, status_body(400, "BadRequest", "not a Job"));
    const std::string name = job["metadata"].value("name", "");
    std::lock_guard lock(m_);
    if (jobs_.count(name))
      return answer(res, 409, status_body(409, "AlreadyExists", "jobs.batch \"" + name + "\" already exists"));
    const std::string uid = "uid-" + std::to_string(next_uid_++);
    job["metadata"]["uid"] = uid;
    job["metadata"]["creationTimestamp"] = "2026-12-05T00:00:00Z";
    job["status"] = json::object();
    jobs_[name] = job;
    auto p = std::make_shared<pod>();
    p->name = name + "-" + std::to_string(next_uid_++);
    p->job = name;
    p->uid = "pod-" + uid;
    p->labels = job["spec"]["template"]["metadata"].value("labels", json::object());
    p->labels["job-name"] = name;
    p->deadline_s = job["spec"].value("activeDeadlineSeconds", 0);
    for (const auto& v : job["spec"]["template"]["spec"].value("volumes", json::array()))
      if (v.contains("secret")) p->secret = v["secret"].value("secretName", "");
    pods_[p->name] = p;
    kubelets_.emplace_back([this, p] { kubelet(p); });
    answer(res, 201, job);
  });
  s.Get("/apis/batch/v1" + ns + "/jobs", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(m_);
    answer(res, 200, list_of("JobList", jobs_, req.get_param_value("labelSelector")));
  });
  s.Get(R"(/apis/batch/v1/namespaces/[^/]+/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(m_);
    auto it = jobs_.find(req.matches[1]);
    if (it == jobs_.end()) return answer(res, 404, status_body(404, "NotFound", "jobs.batch \"" + std::string(req.matches[1]) + "\" not found"));
    answer(res, 200, it->second);
  });
  s.Delete(R"(/apis/batch/v1/namespaces/[^/]+/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(m_);
    if (!jobs_.count(req.matches[1])) return answer(res, 404, status_body(404, "NotFound", "not found"));
    delete_job(req.matches[1]);
    answer(res, 200, {{"kind", "Status"}, {"status", "Success"}});
  });

  s.Post("/api/v1" + ns + "/secrets", [this](const httplib::Request& req, httplib::Response& res) {
    auto secret = json::parse(req.body, nullptr, false);
    if (!secret.is_object() || !secret.contains("metadata")) return answer(res, 400, status_body(400, "BadRequest", "not a Secret"));
    const std::string name = secret["metadata"].value("name", "");
    std::lock_guard lock(m_);
    if (secrets_.count(name)) return answer(res, 409, status_body(409, "AlreadyExists", "secrets \"" + name + "\" already exists"));
    secret["metadata"]["uid"] = "uid-" + std::to_string(next_uid_++);
    secrets_[name] = secret;
    cv_.notify_all();
    answer(res, 201, secret);
  });
  s.Get("/api/v1" + ns + "/secrets", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(m_);
    answer(res, 200, list_of("SecretList", secrets_, req.get_param_value("labelSelector")));
  });
  s.Delete(R"(/api/v1/namespaces/[^/]+/secrets/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(m_);
    if (!secrets_.erase(req.matches[1])) return answer(res, 404, status_body(404, "NotFound", "not found"));
    answer(res, 200, {{"kind", "Status"}, {"status", "Success"}});
  });

  s.Get("/api/v1" + ns + "/pods", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(m_);
    std::map<std::string, json> pods;
    for (const auto& [n, p] : pods_)
      if (!p->deleting) pods[n] = pod_json(*p);
    answer(res, 200, list_of("PodList", pods, req.get_param_value("labelSelector")));
  });
  s.Get(R"(/api/v1/namespaces/[^/]+/pods/([^/]+)/log)", [this](const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<pod> p;
    {
      std::lock_guard lock(m_);
      auto it = pods_.find(req.matches[1]);
      if (it == pods_.end()) return answer(res, 404, status_body(404, "NotFound", "pods \"" + std::string(req.matches[1]) + "\" not found"));
      p = it->second;
      if (p->node_lost)
        return answer(res, 500, status_body(500, "InternalError", "Get \"https://fake-node-1:10250/containerLogs/...\": dial tcp: i/o timeout"));
      if (!p->started)
        return answer(res, 400, status_body(400, "BadRequest", "container \"worker\" in pod \"" + p->name + "\" is waiting to start: ContainerCreating"));
    }
    auto sent = std::make_shared<std::size_t>(0);
    res.set_chunked_content_provider("text/plain", [this, p, sent](std::size_t, httplib::DataSink& sink) {
      std::unique_lock lock(m_);
      cv_.wait_for(lock, 100ms, [&] { return closing_ || p->ended || p->node_lost || p->log.size() > *sent; });
      if (p->node_lost) return false;  // the connection to the node's kubelet is gone
      if (p->log.size() > *sent) {
        std::string piece = p->log.substr(*sent);
        *sent = p->log.size();
        lock.unlock();
        return sink.write(piece.data(), piece.size());
      }
      if (closing_ || p->ended) {
        lock.unlock();
        sink.done();
      }
      return true;
    });
  });
}

}  // namespace berth::test
