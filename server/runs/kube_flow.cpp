#include "server/runs/kube_flow.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "server/runs/reconciler.hpp"

namespace berth::runs {

namespace {
using json = nlohmann::json;
constexpr int poll_ms = 1000;
constexpr auto log_tail_limit = std::chrono::seconds(15);  // after the pod ended, for its log to end too
constexpr int job_ttl_s = 3600;  // a finished Job berth could not delete goes after this; berthd away longer loses its exit code

// A piece of the log as Docker frames a container's stdout: the pump reads both alike.
bool write_framed(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = std::min<std::size_t>(data.size(), 1 << 20);
    std::string frame(8, '\0');
    frame[0] = 1;
    frame[4] = static_cast<char>((n >> 24) & 0xff);
    frame[5] = static_cast<char>((n >> 16) & 0xff);
    frame[6] = static_cast<char>((n >> 8) & 0xff);
    frame[7] = static_cast<char>(n & 0xff);
    frame.append(data.substr(0, n));
    data.remove_prefix(n);
    for (std::string_view left = frame; !left.empty();) {
      auto w = ::send(fd, left.data(), left.size(), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;  // the run's side is gone
      left.remove_prefix(static_cast<std::size_t>(w));
    }
  }
  return true;
}

std::string pod_of(kube::kube_client& api, const std::string& job) {
  auto pods = api.list(api.pods_path(), "job-name=" + job);
  return pods.empty() ? std::string() : string_at(pods[0].value("metadata", json::object()), "name");
}
}  // namespace

// Shared by the run's thread and its follower: stop requests and the current follow (to cut it short).
struct kube_flow::follower_state {
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  kube::log_follow* current = nullptr;
  void request_stop() {
    std::lock_guard lock(m);
    stop = true;
    if (current) current->stop();
    cv.notify_all();
  }
  bool wait_or_stop(std::chrono::milliseconds d) {  // true: stop asked
    std::unique_lock lock(m);
    return cv.wait_for(lock, d, [&] { return stop; });
  }
};

kube_flow::kube_flow(const config& c, kube::kube_client& api, journal& j, const std::string& instance,
                     docker_executor::active_run& a, store::run_record rec, std::function<void()> release, token_registry& tokens)
    : run_steps(c, j, a, std::move(rec), std::move(release), tokens), api_(api), instance_(instance),
      job_(kube::job_name(rec_.id)), follower_(std::make_shared<follower_state>()) {
  poll_worker_ms_ = poll_ms;
}

kube_flow::~kube_flow() {
  follower_->request_stop();  // the thread ends its follow and returns; jthread joins it
}

std::string kube_flow::job_path() const { return api_.jobs_path() + "/" + job_; }

void kube_flow::remove_worker() {
  follower_->request_stop();
  delete_job_and_secret();
}

void kube_flow::delete_job_and_secret() {
  for (const auto& path : {job_path(), api_.secrets_path() + "/" + kube::secret_name(rec_.id)}) {
    try {
      api_.remove(path);
    } catch (const kube::kube_error& e) {
      log::warn("could not delete the run's Job or Secret; the reconciler will", {{"run", rec_.id}, {"error", e.what()}});
    }
  }
}

docker::unix_stream kube_flow::begin_fresh() {
  mark_starting();
  kube::job_params p;
  p.name = job_;
  p.space = api_.space();
  p.image = cfg_.worker_image;
  p.labels = {{"berth.instance", instance_}, {"berth.run", rec_.id}, {"berth.user", rec_.user}, {"berth.node", cfg_.node_id}};
  p.memory = cfg_.worker_memory;
  p.cpus = cfg_.worker_cpus;
  p.deadline_s = timeout_s_;
  p.ttl_s = job_ttl_s;
  p.secret = kube::secret_name(rec_.id);
  json job;
  try {
    job = api_.create(api_.jobs_path(), kube::job_body(p));
  } catch (const kube::kube_error& e) {
    if (e.status != 409) throw;
    // Left by a crash before this run's start was stored: it never got its task (the Secret comes after).
    log::warn("a Job of this run exists already; replacing it", {{"run", rec_.id}});
    delete_job_and_secret();
    job = api_.create(api_.jobs_path(), kube::job_body(p));
  }
  const auto uid = string_at(job.value("metadata", json::object()), "uid");
  try {
    api_.create(api_.secrets_path(), kube::task_secret_body(p.secret, p.space, p.labels, task_line(), job_, uid));
  } catch (const kube::kube_error& e) {
    if (e.status != 409) throw;
    api_.remove(api_.secrets_path() + "/" + p.secret);
    api_.create(api_.secrets_path(), kube::task_secret_body(p.secret, p.space, p.labels, task_line(), job_, uid));
  }
  mark_running(job_);  // the run timeout counts from here, as activeDeadlineSeconds does
  log::info("worker Job created", {{"run", rec_.id}, {"job", job_}});
  return follow();
}

docker::unix_stream kube_flow::resume() {
  auto job = with_engine([&] { return api_.get(job_path()); });
  if (job.is_null()) {
    if (rec_.status == "starting") return begin_fresh();
    throw run_lost("the worker's Job vanished while berthd was not following it");
  }
  node_ = rec_.worker_node;
  if (rec_.status == "starting") mark_running(job_);
  log::info("following the worker pod's log after restart", {{"run", rec_.id}, {"job", job_}, {"stdout_offset", std::to_string(rec_.stdout_offset)}});
  return follow();
}

docker::unix_stream kube_flow::follow() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair failed");
  follower_thread_ = std::jthread([this, out = fds[1]] { follow_loop(out); });
  return docker::unix_stream::adopt(fds[0]);
}

// The follower thread: finds the Job's pod, follows its log into `out` and closes it when the log has ended.
// A follow cut short (the API server restarted, a connection dropped) is opened again and skips what it
// already passed on; a pod not yet started (400) or not yet made is waited for.
void kube_flow::follow_loop(int out) {
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_out{out};
  const auto state = follower_;  // outlives this thread's use of it
  std::int64_t passed = 0;
  std::string pod;
  while (!state->wait_or_stop(std::chrono::milliseconds(pod.empty() ? 0 : poll_ms))) {
    try {
      if (pod.empty()) pod = pod_of(api_, job_);
      if (pod.empty()) {
        if (state->wait_or_stop(std::chrono::milliseconds(poll_ms))) return;
        continue;
      }
      kube::log_follow f(api_);
      {
        std::lock_guard lock(state->m);
        if (state->stop) return;
        state->current = &f;
      }
      std::int64_t seen = 0;
      bool sink_ok = true;
      const int status = f.run(pod, [&](std::string_view piece) {
        const auto at = seen;
        seen += static_cast<std::int64_t>(piece.size());
        if (seen <= passed) return true;  // passed on by an earlier follow
        if (at < passed) piece.remove_prefix(static_cast<std::size_t>(passed - at));
        passed = seen;
        sink_ok = write_framed(out, piece);
        return sink_ok;
      });
      {
        std::lock_guard lock(state->m);
        state->current = nullptr;
      }
      if (!sink_ok) return;
      if (status == 200) return;  // the log ended: the container exited
      if (status == 404) pod.clear();  // the pod went (its Job deleted): the run's thread sees why
    } catch (const std::exception& e) {
      log::debug("pod log follow failed; retrying", {{"run", rec_.id}, {"error", e.what()}});
    }
  }
}

void kube_flow::stop_worker() {
  try {
    api_.remove(job_path());
  } catch (const kube::kube_error& e) {
    stop_error_ = e.what();
    log::error("could not delete the worker's Job", {{"run", rec_.id}, {"error", e.what()}});
  }
}

bool kube_flow::worker_ended() {
  auto job = with_engine([&] { return api_.get(job_path()); });
  if (job.is_null()) {
    if (stop_ != stop_request::none) return true;
    throw run_lost("the worker's Job was deleted behind berthd's back");
  }
  auto pods = with_engine([&] { return api_.list(api_.pods_path(), "job-name=" + job_); });
  const json pod = pods.empty() ? json(nullptr) : pods[0];
  if (node_.empty() && pod.is_object()) {
    node_ = string_at(pod.value("spec", json::object()), "nodeName");
    if (!node_.empty()) {
      store::run_update u;
      u.worker_node = node_;
      emit({}, u);
      log::info("worker pod placed", {{"run", rec_.id}, {"node", node_}});
    }
  }
  end_ = kube::read_end(job, pod);
  return end_.ended;
}

void kube_flow::after_output(docker::unix_stream& s, output_pump& p) {
  // The pod ended (or was stopped) while its log may still hold lines on their way: read on until the follower
  // says the log ended, for a bounded time.
  if (end_.lost) return;
  read_rest(s, p, log_tail_limit);
  follower_->request_stop();
  if (stop_ == stop_request::none && !end_.ended && !await_worker_end(log_tail_limit)) {
    end_.ended = end_.lost = true;
    end_.reason = "the worker pod's log ended but the pod reported no end within " + std::to_string(log_tail_limit.count()) + " s";
  }
}

void kube_flow::finalize(output_pump& p) {
  finish_with(p, {.ended = end_.ended, .exit_code = end_.exit_code, .oom_killed = end_.oom_killed, .deadline = end_.deadline,
                  .lost = end_.lost, .not_started = end_.ended && !end_.lost && !end_.exit_code, .reason = end_.reason});
}

int reconcile_kube(kube::kube_client& api, store::store& db, const executor& exec, const std::string& instance) {
  const std::string selector = "berth.instance=" + kube::label_value(instance);
  int removed = 0;
  auto sweep = [&](const std::string& collection, const char* what) {
    for (const auto& item : api.list(collection, selector)) {
      const auto meta = item.value("metadata", json::object());
      const auto run = string_at(meta.value("labels", json::object()), "berth.run");
      if (!worker_left_over(db, exec, run)) continue;
      api.remove(collection + "/" + string_at(meta, "name"));
      ++removed;
      log::info(std::string("removed the ") + what + " of a finished or unknown run", {{"run", run}});
    }
  };
  sweep(api.jobs_path(), "Job");
  sweep(api.secrets_path(), "task Secret");
  return removed;
}

}  // namespace berth::runs
