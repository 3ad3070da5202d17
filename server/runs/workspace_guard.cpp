#include "server/runs/workspace_guard.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "common/strings.hpp"

namespace berth::runs {

workspace_actions decide_workspaces(const std::vector<docker::volume_usage>& volumes,
                                    const std::map<std::string, std::vector<std::string>>& active,
                                    const std::map<std::string, std::int64_t>& last_run_ms, std::int64_t now_ms,
                                    const workspace_limits& limits) {
  workspace_actions out;
  for (const auto& v : volumes) {
    auto user_it = v.labels.find("berth.user");
    if (user_it == v.labels.end()) continue;
    const auto& user = user_it->second;
    auto runs = active.find(user);
    bool busy = runs != active.end() && !runs->second.empty();
    if (limits.max_bytes > 0 && busy && v.size > limits.max_bytes)
      for (const auto& id : runs->second) out.stop_runs.emplace_back(id, v.size);
    if (limits.idle_ms > 0 && !busy && v.ref_count == 0) {
      auto last = last_run_ms.find(user);
      if (last == last_run_ms.end() || now_ms - last->second > limits.idle_ms) out.remove_volumes.push_back(v.name);
    }
  }
  return out;
}

workspace_guard::workspace_guard(const config& c, docker::docker_client& d, store::store& s, executor& e, std::string instance)
    : cfg_(c), docker_(d), store_(s), exec_(e), instance_(std::move(instance)) {}

workspace_guard::~workspace_guard() { stop(); }

void workspace_guard::start() {
  if (cfg_.workspace_max_bytes <= 0 && cfg_.workspace_idle_s <= 0 && !sets_) return;
  thread_ = std::jthread([this] { loop(); });
}

void workspace_guard::stop() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void workspace_guard::loop() {
  std::unique_lock lock(m_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::seconds(cfg_.workspace_check_s), [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    check_once();
    lock.lock();
  }
}

void workspace_guard::check_once() {
  // Set volumes: at most every tenth of their keep time (and ten minutes), on the same thread.
  const auto now = now_ms();
  const std::int64_t keep_ms = std::int64_t{cfg_.skill_set_keep_s} * 1000;
  if (sets_ && now - last_sweep_ms_ >= std::min<std::int64_t>(keep_ms / 10, 600'000)) {
    last_sweep_ms_ = now;
    try {
      sets_->sweep(docker_.volumes_with_usage(), now);
    } catch (const std::exception& e) {
      log::warn("skill set sweep failed; trying again later", {{"error", e.what()}});
    }
  }
  if (cfg_.workspace_max_bytes <= 0 && cfg_.workspace_idle_s <= 0) return;
  try {
    auto active_runs = store_.runs_in_status({"starting", "running"});
    if (active_runs.empty() && cfg_.workspace_idle_s <= 0) return;  // nothing to measure: skip the engine's walk
    std::vector<docker::volume_usage> mine;
    for (auto& v : docker_.volumes_with_usage())
      if (v.labels.count("berth.instance") && v.labels.at("berth.instance") == instance_ && v.labels.count("berth.kind") &&
          v.labels.at("berth.kind") == "workspace")
        mine.push_back(std::move(v));
    std::map<std::string, std::vector<std::string>> active;
    for (const auto& r : active_runs) active[r.user].push_back(r.id);
    std::map<std::string, std::int64_t> last;
    if (cfg_.workspace_idle_s > 0)
      for (const auto& v : mine)
        if (auto u = v.labels.find("berth.user"); u != v.labels.end())
          if (auto t = store_.last_run_ms(u->second)) last[u->second] = *t;
    auto todo = decide_workspaces(mine, active, last, now_ms(),
                                  {cfg_.workspace_max_bytes, std::int64_t{cfg_.workspace_idle_s} * 1000});
    for (const auto& [id, size] : todo.stop_runs) {
      log::warn("workspace over its limit; stopping the run",
                {{"run", id}, {"bytes", std::to_string(size)}, {"limit", std::to_string(cfg_.workspace_max_bytes)}});
      exec_.stop(id, stop_request::disk_limit);
    }
    for (const auto& name : todo.remove_volumes) {
      docker_.remove_volume(name);
      log::info("removed an idle workspace", {{"volume", name}, {"idle_s", std::to_string(cfg_.workspace_idle_s)}});
    }
  } catch (const std::exception& e) {
    log::warn("workspace check failed; trying again later", {{"error", e.what()}});
  }
}

}  // namespace berth::runs
