#include "server/runs/reconciler.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/runs/docker_executor.hpp"
#include "server/runs/kube_flow.hpp"
#include "server/runs/swarm_flow.hpp"

namespace berth::runs {

namespace {
constexpr auto events_retry = std::chrono::seconds(2);
}

reconciler::reconciler(const config& c, docker::docker_client& d, store::store& s, executor& e, run_manager& m,
                       std::string instance)
    : cfg_(c), docker_(d), store_(s), exec_(e), manager_(m), instance_(std::move(instance)) {}

reconciler::~reconciler() { stop(); }

bool worker_left_over(store::store& db, const executor& exec, const std::string& run) {
  if (run.empty() || exec.is_active(run)) return false;
  auto rec = db.get_run(run);
  return !rec || is_terminal_status(rec->status);
}

int reconciler::reconcile_once() {
  try {
    return reconcile_pass();
  } catch (const std::exception& e) {
    if (!store::is_store_error(e)) throw;
    log::warn("reconciliation skipped: the database does not answer", {{"error", e.what()}});
    return 0;
  }
}

int reconciler::reconcile_pass() {
  int removed = 0;
  if (kube_) {  // no containers of ours on this host: Jobs and Secrets in the cluster
    try {
      removed += reconcile_kube(*kube_, store_, exec_, instance_);
    } catch (const kube::kube_error& e) {
      log::debug("reconcile skipped: the Kubernetes API is unavailable", {{"error", e.what()}});
    }
    manager_.adopt_orphans();
    return removed;
  }
  std::vector<docker::container_summary> containers;
  try {
    containers = docker_.list("berth.instance=" + instance_);
  } catch (const docker::docker_error& e) {
    log::debug("reconcile skipped: engine unavailable", {{"error", e.what()}});
    return 0;
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::set<std::string> live_nodes;
  auto live_node_ids = [this] {
    std::set<std::string> ids{cfg_.node_id};
    try {
      for (const auto& [id, seen] : store_.live_nodes(now_ms(), static_cast<std::int64_t>(cfg_.lease_s) * 1000)) ids.insert(id);
    } catch (const std::exception&) {
      ids.insert("*");  // unknown while the database is away: keep every spare
    }
    return ids;
  };
  // Another live instance's spares and namespace holders (on the same engine) are its own business.
  auto of_other_live_node = [&](const docker::container_summary& c) {
    auto nd = c.labels.find("berth.node");
    if (nd == c.labels.end() || nd->second == cfg_.node_id) return false;
    if (live_nodes.empty()) live_nodes = live_node_ids();
    return live_nodes.count(nd->second) || live_nodes.count("*");
  };
  std::set<std::string> joined;  // namespace holders a worker still uses
  for (const auto& c : containers)
    if (auto h = c.labels.find("berth.netns"); h != c.labels.end() && h->second != "holder") joined.insert(h->second);
  for (const auto& c : containers) {
    if (auto h = c.labels.find("berth.netns"); h != c.labels.end() && h->second == "holder") {
      // A namespace made ahead: idle in the pool, joined by a worker that still exists, or just made; any
      // other is left over (a restart, a crash) — it holds nothing.
      if (exec_.holds_netns(c.id) || joined.count(c.id) || of_other_live_node(c) || now - c.created < 10) continue;
      try {
        docker_.remove(c.id);
        ++removed;
        log::info("removed a left-over network namespace holder", {{"container", c.id.substr(0, 12)}});
      } catch (const docker::docker_error&) {}
      continue;
    }
    if (c.labels.count("berth.helper") && now - c.created > cfg_.orphan_grace_s) {
      try { docker_.remove(c.id); ++removed; } catch (const docker::docker_error&) {}
      continue;
    }
    if (auto sp = c.labels.find("berth.spare"); sp != c.labels.end()) {
      // A spare in the pool waits for its user; one a run took is that run's container; any other is stale.
      if (exec_.is_spare(c.id) || of_other_live_node(c)) continue;
      auto owner = store_.run_by_container(c.id);
      if (owner && !is_terminal_status(owner->status)) continue;
      if (!owner && now - c.created < 10) continue;  // being made right now: not in the pool yet
      try {
        docker_.remove(c.id);
        ++removed;
        log::info(owner ? "removed the container of a finished run" : "removed a stale warm spare",
                  {{"user", sp->second}, {"container", c.id.substr(0, 12)}});
      } catch (const docker::docker_error&) {}
      continue;
    }
    auto it = c.labels.find("berth.run");
    if (it == c.labels.end()) continue;
    const std::string& run = it->second;
    if (exec_.is_active(run)) continue;
    auto rec = store_.get_run(run);
    bool leftover = rec && is_terminal_status(rec->status);
    bool orphan = !rec && now - c.created > cfg_.orphan_grace_s;
    if (!leftover && !orphan) continue;
    try {
      docker_.remove(c.id);
      ++removed;
      log::info(leftover ? "removed the container of a finished run" : "removed an orphan worker container",
                {{"run", run}, {"container", c.id.substr(0, 12)}});
    } catch (const docker::docker_error& e) {
      log::warn("could not remove container", {{"run", run}, {"error", e.what()}});
    }
  }
  if (cfg_.executor == "swarm") {
    try {
      removed += reconcile_swarm(docker_, store_, exec_, instance_);
    } catch (const docker::docker_error& e) {
      log::debug("swarm reconcile skipped: manager unavailable", {{"error", e.what()}});
    }
  }
  try {
    manager_.adopt_orphans();
  } catch (const std::exception& e) {
    log::warn("adoption pass skipped: the database does not answer", {{"error", e.what()}});
  }
  return removed;
}

void reconciler::periodic() {
  std::unique_lock lock(m_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(cfg_.reconcile_s), [this] { return stop_ || poke_; });
    if (stop_) break;
    poke_ = false;
    lock.unlock();
    reconcile_once();
    lock.lock();
  }
}

// Docker's event stream: a die or oom of one of our containers wakes the reconciler at once.
void reconciler::watch_events() {
  for (;;) {
    {
      std::lock_guard lock(m_);
      if (stop_) return;
    }
    try {
      auto s = docker_.events("berth.instance=" + instance_, static_cast<std::int64_t>(std::time(nullptr)));
      events_fd_ = s.fd();
      std::string buf;
      for (;;) {
        {
          std::lock_guard lock(m_);
          if (stop_) break;
        }
        auto r = s.read();
        buf += r.data;
        for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
          auto j = parse_json(buf.substr(0, nl));
          buf.erase(0, nl + 1);
          std::string action = j.is_object() ? j.value("Action", j.value("status", "")) : "";
          if (action == "die" || action == "oom") {
            log::debug("engine event", {{"action", action}, {"container", j.value("id", "").substr(0, 12)}});
            std::lock_guard lock(m_);
            poke_ = true;
            cv_.notify_all();
          }
        }
        if (r.eof) break;
      }
      events_fd_ = -1;
    } catch (const docker::docker_error& e) {
      events_fd_ = -1;
      log::debug("engine event stream unavailable", {{"error", e.what()}});
    }
    std::unique_lock lock(m_);
    if (cv_.wait_for(lock, events_retry, [this] { return stop_; })) return;
  }
}

void reconciler::start() {
  int removed = reconcile_once();
  if (removed > 0) log::info("start-up reconciliation done", {{"removed", std::to_string(removed)}});
  periodic_thread_ = std::thread([this] { periodic(); });
  if (!kube_) events_thread_ = std::thread([this] { watch_events(); });
}

void reconciler::stop() {
  {
    std::lock_guard lock(m_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (int fd = events_fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  if (periodic_thread_.joinable()) periodic_thread_.join();
  if (events_thread_.joinable()) events_thread_.join();
}

}  // namespace berth::runs
