// Admission and scheduling: every run is stored `queued` first; it starts when the global cap
// (BERTH_MAX_CONCURRENT) and its user's cap (BERTH_MAX_PER_USER) allow, first come first served among those
// that may start. The queue lives in the store, so it survives a restart; BERTH_QUEUE_MAX bounds it and only
// a full queue turns a request away (429 + Retry-After). Blocking (store): call off the I/O threads.
#pragma once
#include <cstddef>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/config.hpp"
#include "server/runs/executor.hpp"
#include "server/runs/journal.hpp"
#include "server/runs/run_request.hpp"

namespace berth::runs {

struct queue_stats {
  std::size_t queued = 0;
  std::size_t running = 0;
};

enum class cancel_result { not_found, cancelled, stopping, already_finished };

class run_manager {
 public:
  run_manager(const config& c, journal& j, executor& e);
  // Restores the persisted queue and hands runs that were active before a restart back to the executor.
  void start();
  // Stops admitting runs (503) and scheduling; the executor is detached separately.
  void stop();
  store::run_record submit(const run_request& r);  // throws request_error (429 queue full, 503 stopping)
  cancel_result cancel(const std::string& id);
  // A run that could not be admitted but whose caller must still get an answer (a chat message): stored as
  // `failed` ("not started: <why>") with its `done`, so its owed replies are sent and history shows it.
  store::run_record record_refused(const run_request& r, const std::string& why);
  // Schedules again after the engine came back (runs requeued while it was down).
  void retry();
  // Hands an active run nobody follows (found by the reconciler) to the executor.
  void adopt(const std::string& id);
  // While this says no, nothing is launched: runs wait in the queue instead of failing.
  void set_engine_check(std::function<bool()> ok) { engine_ok_ = std::move(ok); }
  queue_stats stats();
  request_limits limits() const;

 private:
  void finished(const store::run_record& rec);
  void requeue(const store::run_record& rec);
  void schedule_locked();
  store::run_record store_queued(const run_request& r);  // the run, its first event and its replies, atomically

  const config& cfg_;
  journal& journal_;
  executor& exec_;
  std::mutex adopt_m_;  // taken before m_, never after it
  std::mutex m_;        // the queue and the counters; never held across store or Docker I/O
  std::deque<store::run_record> queue_;  // queued runs, whole: scheduling reads nothing from the store
  std::size_t admitting_ = 0;            // admitted, being stored as queued: they count against the queue
  std::map<std::string, int> per_user_;
  std::size_t running_ = 0;
  std::atomic<bool> stopping_{false};  // set from the signal handler's I/O thread without the lock
  std::function<bool()> engine_ok_;
};

}  // namespace berth::runs
