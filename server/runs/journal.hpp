// The one way a run's events come into being: numbered with the run's next sequence numbers, stored (with
// any change to the run row, in one transaction), and only then published. A subscriber therefore never sees
// an event the store could lose. Each run has exactly one writer at a time (the scheduler while queued, its
// executor thread while active), which owns its `last_seq`.
#pragma once
#include <functional>
#include <optional>
#include <vector>

#include "common/event.hpp"
#include "server/runs/event_bus.hpp"
#include "server/runs/output_translator.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

class journal {
 public:
  journal(store::store& s, event_bus& b) : store_(s), bus_(b) {}
  void write(const std::string& run, std::int64_t& last_seq, std::vector<draft> drafts,
             const store::run_update& u = {});
  // The run's last step: its `done` event and terminal status (with its exit code, if a worker exited).
  void finish(const std::string& run, std::int64_t& last_seq, run_end end, const std::string& reason,
              std::optional<int> exit_code = std::nullopt);
  // Stores a new run with its first event, then publishes that event (the dashboard sees the run queued).
  // With `step` (a schedule's firing) false when the firing had been taken already: nothing stored.
  bool insert(const store::run_record& r, const event& first, const std::vector<store::delivery_record>& replies = {},
              const std::optional<store::schedule_step>& step = std::nullopt);
  // Called (on the writer's thread) after a run's terminal status is stored: the outbox's wake-up.
  void on_finished(std::function<void(const std::string& run)> f) { finished_ = std::move(f); }
  store::store& db() { return store_; }

 private:
  store::store& store_;
  event_bus& bus_;
  std::function<void(const std::string&)> finished_;
};

}  // namespace berth::runs
