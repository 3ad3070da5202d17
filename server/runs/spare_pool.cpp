#include "server/runs/spare_pool.hpp"

#include <poll.h>

#include "common/event.hpp"
#include "common/json_bounded.hpp"
#include "common/task.hpp"

#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/docker/container_spec.hpp"
#include "server/runs/run_tokens.hpp"
#include "server/runs/task_builder.hpp"

namespace berth::runs {

namespace {
constexpr auto watch_interval = std::chrono::seconds(1);
constexpr int image_check_every = 15;  // watch rounds
}

spare_pool::spare_pool(const config& c, docker::docker_client& d, store::store& s, std::string instance,
                       volume_registry& volumes)
    : cfg_(c), docker_(d), store_(s), instance_(std::move(instance)), volumes_(volumes) {}

spare_pool::~spare_pool() { stop(); }

void spare_pool::replenish(const std::string& user) {
  {
    std::lock_guard lock(m_);
    if (stop_ || !cfg_.spares || spares_.count(user) || creating_.count(user)) return;
    if (static_cast<int>(spares_.size() + creating_.size()) >= cfg_.spares_max) return;
    creating_[user] = true;
    ++background_;
  }
  std::thread([this, user] {
    create(user);
    std::lock_guard lock(m_);
    creating_.erase(user);
    --background_;
    cv_.notify_all();
  }).detach();
}

void spare_pool::create(const std::string& user) {
  auto s = std::make_unique<spare>();
  s->user = user;
  try {
    s->instructions = instructions_ && instructions_->ready(user);
    if (sets_) s->set_volume = sets_->volume_for(user, nlohmann::json::object());
    volumes_.ensure(workspace_volume(instance_, user), workspace_labels(instance_, user));
    auto spec = worker_container(cfg_, instance_, user, s->instructions, s->set_volume);
    spec.labels["berth.spare"] = user;
    s->container_id = docker_.create_container("berth-spare-" + new_run_id().substr(14), docker::container_create_body(spec));
    s->stream = docker_.attach(s->container_id);
    s->waiter = docker_.wait_next_exit(s->container_id);
    docker_.start(s->container_id);
    if (auto line = prepared_task(user)) {  // the CLI starts now and waits; the real task follows at claim
      s->stream.write_all(*line);
      s->warm_cli = true;
    }
    s->created = std::chrono::steady_clock::now();
    s->created_ms = now_ms();
  } catch (const std::exception& e) {
    log::warn("could not make a warm spare", {{"user", user}, {"error", e.what()}});
    if (!s->container_id.empty()) try { docker_.remove(s->container_id); } catch (const std::exception&) {}
    return;
  }
  std::unique_lock lock(m_);
  if (stop_) {
    lock.unlock();
    discard(std::move(s), "shutting down");
    return;
  }
  log::debug("warm spare ready", {{"user", user}, {"container", s->container_id.substr(0, 12)}});
  spares_[user] = std::move(s);
}

std::unique_ptr<spare> spare_pool::take(const std::string& user, bool instructions, const std::string& set_volume,
                                        const std::string& session, const std::string& run) {
  std::unique_ptr<spare> s;
  {
    std::lock_guard lock(m_);
    auto it = spares_.find(user);
    if (it == spares_.end()) return nullptr;
    s = std::move(it->second);
    spares_.erase(it);
  }
  bool fresh = std::chrono::steady_clock::now() - s->created < std::chrono::seconds(cfg_.spare_idle_s);
  // A worker that already exited (its warm CLI died) has answered the wait: never handed out.
  pollfd p{s->waiter.fd(), POLLIN, 0};
  const bool exited = s->waiter.has_buffered() || ::poll(&p, 1, 0) != 0;
  if (exited) {
    discard(std::move(s), "its worker exited");
    return nullptr;
  }
  if (s->warm_cli && !session.empty()) {
    try {
      for (const auto& r : store_.session_runs(user, 20))
        if (r.id != run && r.session == session && (r.created_at >= s->created_ms || !is_terminal_status(r.status))) {
          discard(std::move(s), "another run of the session since it was made");
          return nullptr;
        }
    } catch (const std::exception& e) {
      log::warn("a spare's session could not be checked; not used", {{"user", user}, {"error", e.what()}});
      discard(std::move(s), "the store could not say whether it still fits");
      return nullptr;
    }
  }
  if (fresh && s->instructions == instructions && s->set_volume == set_volume) return s;
  discard(std::move(s), "no longer fits");  // on the run's own thread: rare, and no thread left uncounted
  return nullptr;
}

std::optional<std::string> spare_pool::prepared_task(const std::string& user) {
  if (!cfg_.spare_warm_cli || cfg_.default_engine != "claude" || !missing_credentials(cfg_, "claude").empty()) return std::nullopt;
  store::run_record r;
  r.id = "spare-" + new_run_id();
  r.user = user;
  r.engine = "claude";
  if (auto recent = store_.session_runs(user, 1); !recent.empty()) r.session = recent.front().session;
  auto tools = store_.user_setting(user, "tools");
  // The spare's key: the CLI presents it, the relay names it; the gateway knows no run by it, so nothing
  // reaches a model until a run claims the spare and its task brings the run's token.
  const std::string key = "berth-spare-" + new_gateway_secret();
  task t = build_task(cfg_, r, key, tools ? parse_json(*tools) : nlohmann::json());
  t.prepare = true;
  return serialize_task(t);
}

void spare_pool::discard(std::unique_ptr<spare> s, const char* why) {
  log::debug("discarding warm spare", {{"user", s->user}, {"why", why}});
  s->stream.shutdown_both();
  s->waiter.shutdown_both();
  try {
    docker_.remove(s->container_id);
  } catch (const std::exception& e) {
    log::warn("could not remove warm spare; the reconciler will", {{"user", s->user}, {"error", e.what()}});
  }
}

std::size_t spare_pool::size() const {
  std::lock_guard lock(m_);
  return spares_.size();
}

bool spare_pool::contains(const std::string& container_id) const {
  std::lock_guard lock(m_);
  for (const auto& [u, s] : spares_)
    if (s->container_id == container_id) return true;
  return false;
}

void spare_pool::watch() {
  int round = 0;
  std::unique_lock lock(m_);
  while (!cv_.wait_for(lock, watch_interval, [this] { return stop_; })) {
    bool check_image = ++round % image_check_every == 1;
    lock.unlock();
    std::string id;
    if (check_image) {
      try { id = docker_.image_id(cfg_.worker_image); } catch (const std::exception&) {}
    }
    lock.lock();
    bool image_changed = !id.empty() && !image_id_.empty() && id != image_id_;
    if (!id.empty()) image_id_ = id;
    std::vector<std::unique_ptr<spare>> out;
    auto now = std::chrono::steady_clock::now();
    for (auto it = spares_.begin(); it != spares_.end();) {
      if (image_changed || now - it->second->created >= std::chrono::seconds(cfg_.spare_idle_s)) {
        out.push_back(std::move(it->second));
        it = spares_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (auto& s : out) discard(std::move(s), image_changed ? "worker image changed" : "idle too long");
    lock.lock();
  }
}

void spare_pool::start() {
  if (cfg_.spares) watcher_ = std::thread([this] { watch(); });
}

void spare_pool::stop() {
  std::vector<std::unique_ptr<spare>> out;
  {
    std::unique_lock lock(m_);
    stop_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return background_ == 0; });
    for (auto& [u, s] : spares_) out.push_back(std::move(s));
    spares_.clear();
  }
  if (watcher_.joinable()) watcher_.join();
  for (auto& s : out) discard(std::move(s), "shutting down");
}

}  // namespace berth::runs
