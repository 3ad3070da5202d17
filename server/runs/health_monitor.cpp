#include "server/runs/health_monitor.hpp"

#include <sys/statvfs.h>

#include <chrono>

#include "common/log.hpp"

namespace berth::runs {

namespace {
constexpr auto check_interval = std::chrono::seconds(2);
}

health_monitor::health_monitor(docker::docker_client& d, store::store& s, std::string data_dir,
                               std::function<void()> on_engine_back)
    : docker_(d), store_(s), data_dir_(std::move(data_dir)), on_engine_back_(std::move(on_engine_back)) {}

health_monitor::~health_monitor() { stop(); }

void health_monitor::check_now() {
  // /_ping is the liveness probe; /version (which makes dockerd exec runc and docker-init for their
  // versions) is asked only when the engine (re)appears.
  bool was_ok = state_.docker_ok;
  std::string error;
  std::string version;
  try {
    if (probe_) version = probe_();
    else docker_.ping_or_throw();
  } catch (const std::exception& e) {
    error = e.what();
  }
  bool ok = error.empty();
  if (ok && !was_ok && !probe_) {
    try {
      auto v = docker_.version();
      version = v.value("Version", "") + " (API " + v.value("ApiVersion", "") + ")";
    } catch (const std::exception&) {}
  }
  {
    std::lock_guard lock(state_.m);
    if (!version.empty()) state_.docker_version = version;
    state_.docker_error = error;
  }
  state_.docker_ok = ok;
  state_.store_ok = store_.ping();
  struct statvfs fs{};
  if (::statvfs(data_dir_.c_str(), &fs) == 0)
    state_.disk_free_bytes = static_cast<std::int64_t>(fs.f_bavail) * static_cast<std::int64_t>(fs.f_frsize);
  if (ok != was_ok) {
    const std::string engine = probe_ ? "the Kubernetes API" : "docker engine";
    if (ok) log::info(engine + " answers", {{"version", version}});
    else log::error(engine + " does not answer; new runs wait in the queue", {{"error", error}});
  }
  if (ok && !was_ok && on_engine_back_) on_engine_back_();
}

void health_monitor::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(m_);
    while (!stop_) {
      lock.unlock();
      check_now();
      lock.lock();
      cv_.wait_for(lock, check_interval, [this] { return stop_; });
    }
  });
}

void health_monitor::stop() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace berth::runs
