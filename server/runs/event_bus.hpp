// Live fan-out of a run's events to its subscribers (SSE streams). Publishing never blocks on a subscriber:
// each has a bounded queue, and one that falls behind is marked overflowed and dropped — it resumes from the
// store with Last-Event-ID. The wake callback is how a subscriber's own thread/strand learns of new events;
// it must be cheap and must not call back into the bus.
#pragma once
#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/event.hpp"

namespace berth::runs {

inline constexpr std::size_t subscriber_queue_max = 4096;

using event_ptr = std::shared_ptr<const event>;

class subscription {
 public:
  explicit subscription(std::function<void()> wake) : wake_(std::move(wake)) {}
  // Moves queued events into `out`. Returns false once the subscriber overflowed (then `out` is left empty).
  bool drain(std::vector<event_ptr>& out);
  void push(const event_ptr& e);
  void wake() { wake_(); }
  // Marks it fallen behind (its stream ends; the client resumes from the store with Last-Event-ID).
  void overflow();

 private:
  std::mutex m_;
  std::deque<event_ptr> q_;
  bool overflowed_ = false;
  std::function<void()> wake_;
};

class event_bus {
 public:
  // `run` empty: every run's status and done events (the dashboard's overview).
  std::shared_ptr<subscription> subscribe(const std::string& run, std::function<void()> wake);
  void unsubscribe(const std::string& run, const std::shared_ptr<subscription>& s);
  void publish(const std::string& run, const std::vector<event_ptr>& events);
  std::size_t subscriber_count() const { return count_.load(); }
  // True when someone listens to this run (or to every run's status changes, and `status_change` is set).
  bool wants(const std::string& run, bool status_change) const;
  // Every subscriber overflows: after events may have been missed (database notifications were down).
  void overflow_all();
  // Shutdown: every subscriber's wake is called once so its stream can end.
  void wake_all();

 private:
  mutable std::mutex m_;
  std::map<std::string, std::vector<std::shared_ptr<subscription>>> subs_;
  std::atomic<std::size_t> count_{0};
};

}  // namespace berth::runs
