// Counts an instance's live workers from the engine's own event stream (start/die), from construction until
// finish(): the peak is what a concurrency cap must bound.
#pragma once
#include <atomic>
#include <ctime>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "docker_helpers.hpp"

namespace berth::test {

class worker_watch {
 public:
  explicit worker_watch(const std::string& instance)
      : events_(engine().events("berth.instance=" + instance, static_cast<std::int64_t>(std::time(nullptr)) - 1)),
        thread_([this] { follow(); }) {}
  ~worker_watch() { finish(); }
  worker_watch(const worker_watch&) = delete;
  worker_watch& operator=(const worker_watch&) = delete;
  // Waits until `n` workers started and none is alive, then stops watching; false when that never came.
  bool finish_after(int n) {
    bool ok = eventually([&] { return started_ >= n && alive_ == 0; });
    finish();
    return ok;
  }
  void finish() {
    if (stop_.exchange(true)) return;
    events_.shutdown_both();
    thread_.join();
  }
  int peak() const { return peak_; }
  int started() const { return started_; }

 private:
  void follow() {
    std::string buf;
    while (!stop_) {
      auto r = events_.read();
      buf += r.data;
      for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
        auto j = nlohmann::json::parse(buf.substr(0, nl), nullptr, false);
        buf.erase(0, nl + 1);
        std::string action = j.is_object() ? j.value("Action", "") : "";
        // A network namespace holder is not a worker (server/runs/netns_pool.hpp).
        if (j.is_object() && j.contains("Actor") && j["Actor"].value("Attributes", nlohmann::json::object()).value("berth.netns", "") == "holder")
          continue;
        if (action == "start") {
          ++started_;
          peak_ = std::max(peak_.load(), ++alive_);
        }
        if (action == "die") --alive_;
      }
      if (r.eof) break;
    }
  }
  docker::unix_stream events_;
  std::atomic<int> alive_{0}, peak_{0}, started_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace berth::test
