#include "server/runs/netns_pool.hpp"

#include <algorithm>

#include "common/ids.hpp"
#include "common/log.hpp"

namespace berth::runs {
namespace {
constexpr auto retry_after_failure = std::chrono::seconds(5);
}

nlohmann::json netns_holder_body(const config& c, const std::string& instance) {
  using json = nlohmann::json;
  // Holds a namespace and nothing else: no mounts, no capabilities, a few pids, a little memory, no logs.
  return {
      {"Image", c.worker_image},
      {"Entrypoint", json::array({"/bin/sleep"})},
      {"Cmd", json::array({"infinity"})},
      {"User", "65534:65534"},
      {"Labels", {{"berth.instance", instance}, {"berth.node", c.node_id}, {"berth.netns", "holder"}}},
      {"HostConfig",
       {{"NetworkMode", "none"},
        {"Memory", 16LL << 20},
        {"MemorySwap", 16LL << 20},
        {"NanoCpus", 100'000'000},
        {"PidsLimit", 4},
        {"CapDrop", json::array({"ALL"})},
        {"SecurityOpt", json::array({"no-new-privileges"})},
        {"ReadonlyRootfs", true},
        {"Privileged", false},
        {"LogConfig", {{"Type", "none"}, {"Config", json::object()}}},
        {"AutoRemove", false}}},
  };
}

netns_pool::netns_pool(const config& c, docker::docker_client& d, std::string instance)
    : cfg_(c), docker_(d), instance_(std::move(instance)) {}

netns_pool::~netns_pool() { stop(); }

void netns_pool::start() {
  if (cfg_.netns_spares <= 0 || cfg_.worker_network != "none" || filler_.joinable()) return;
  filler_ = std::thread([this] { fill(); });
}

void netns_pool::stop() {
  std::vector<std::string> idle;
  {
    std::lock_guard lock(m_);
    stop_ = true;
    idle.swap(idle_);
    for (auto& p : parked_) idle.push_back(std::move(p.id));
    parked_.clear();
  }
  cv_.notify_all();
  if (filler_.joinable()) filler_.join();
  for (const auto& id : idle) try { docker_.remove(id); } catch (const std::exception&) {}
}

std::string netns_pool::take(const std::string& user) {
  std::lock_guard lock(m_);
  std::string id;
  if (auto it = std::find_if(parked_.begin(), parked_.end(), [&](const parked& p) { return p.user == user; }); it != parked_.end()) {
    id = std::move(it->id);
    parked_.erase(it);
  } else if (!idle_.empty()) {
    id = std::move(idle_.front());  // the oldest first
    idle_.erase(idle_.begin());
  } else {
    return {};
  }
  taken_.insert(id);
  cv_.notify_all();
  return id;
}

void netns_pool::give_back(const std::string& user, const std::string& holder) {
  if (holder.empty()) return;
  std::vector<std::string> surplus;
  {
    std::lock_guard lock(m_);
    taken_.erase(holder);
    if (!stop_) {
      // One per user: a user's runs at once each took a holder; the last to end keeps its own.
      for (auto it = parked_.begin(); it != parked_.end();) {
        if (it->user == user) {
          surplus.push_back(std::move(it->id));
          it = parked_.erase(it);
        } else {
          ++it;
        }
      }
      parked_.push_back({user, holder, std::chrono::steady_clock::now()});
      while (parked_.size() > max_parked) {
        surplus.push_back(std::move(parked_.front().id));
        parked_.erase(parked_.begin());
      }
    } else {
      surplus.push_back(holder);
    }
  }
  cv_.notify_all();  // the filler keeps the expiry
  for (const auto& id : surplus) try { docker_.remove(id); } catch (const std::exception&) {}
}

void netns_pool::release(const std::string& holder) {
  if (holder.empty()) return;
  try {
    docker_.remove(holder);
  } catch (const std::exception& e) {
    log::warn("could not remove a network namespace holder; the reconciler will", {{"container", holder.substr(0, 12)}, {"error", e.what()}});
  }
  std::lock_guard lock(m_);
  taken_.erase(holder);
}

void netns_pool::flush_idle() {
  std::vector<std::string> idle;
  {
    std::lock_guard lock(m_);
    idle.swap(idle_);
    for (auto& p : parked_) idle.push_back(std::move(p.id));
    parked_.clear();
  }
  for (const auto& id : idle) try { docker_.remove(id); } catch (const std::exception&) {}
  cv_.notify_all();
}

bool netns_pool::contains(const std::string& id) const {
  std::lock_guard lock(m_);
  return taken_.count(id) || std::find(idle_.begin(), idle_.end(), id) != idle_.end() ||
         std::any_of(parked_.begin(), parked_.end(), [&](const parked& p) { return p.id == id; });
}

std::size_t netns_pool::idle() const {
  std::lock_guard lock(m_);
  return idle_.size();
}

netns_pool::start_in_flight::start_in_flight(netns_pool& p) : p_(p) {
  std::lock_guard lock(p_.m_);
  ++p_.starting_;
}

netns_pool::start_in_flight::~start_in_flight() {
  {
    std::lock_guard lock(p_.m_);
    --p_.starting_;
  }
  p_.cv_.notify_all();
}

void netns_pool::fill() {
  const auto keep = std::chrono::seconds(cfg_.spare_idle_s);
  std::unique_lock lock(m_);
  for (;;) {
    auto wanted = [this] { return stop_ || (starting_ == 0 && static_cast<int>(idle_.size()) < cfg_.netns_spares); };
    if (parked_.empty()) cv_.wait(lock, wanted);
    else cv_.wait_until(lock, parked_.front().since + keep, wanted);
    if (stop_) return;
    std::vector<std::string> expired;
    while (!parked_.empty() && std::chrono::steady_clock::now() >= parked_.front().since + keep) {
      expired.push_back(std::move(parked_.front().id));
      parked_.erase(parked_.begin());
    }
    if (!expired.empty()) {
      lock.unlock();
      for (const auto& id : expired) try { docker_.remove(id); } catch (const std::exception&) {}
      lock.lock();
      continue;
    }
    if (!wanted()) continue;
    lock.unlock();
    std::string id;
    try {
      id = docker_.create_container("berth-netns-" + new_run_id().substr(14), netns_holder_body(cfg_, instance_));
      docker_.start(id);
    } catch (const std::exception& e) {
      log::warn("could not make a network namespace ahead; workers make their own meanwhile", {{"error", e.what()}});
      if (!id.empty()) try { docker_.remove(id); } catch (const std::exception&) {}
      lock.lock();
      cv_.wait_for(lock, retry_after_failure, [this] { return stop_; });
      continue;
    }
    lock.lock();
    if (stop_) {
      lock.unlock();
      try { docker_.remove(id); } catch (const std::exception&) {}
      return;
    }
    idle_.push_back(std::move(id));
  }
}

}  // namespace berth::runs
