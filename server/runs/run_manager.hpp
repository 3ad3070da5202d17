// Admission and scheduling: every run is stored `queued` first; it starts when the global cap
// (BERTH_MAX_CONCURRENT) and its user's cap (BERTH_MAX_PER_USER) allow, first come first served among those
// that may start. The queue is the store: a run is claimed by one node (one berthd process) in a transaction
// that counts what runs across every instance on the database, so the caps hold for all of them and no run
// is given to two. BERTH_QUEUE_MAX bounds the queue and only a full queue turns a request away (429 +
// Retry-After). A run's owner keeps it while its heartbeat is fresh (node_lease); past BERTH_LEASE_S another
// instance adopts it. Blocking (store): call off the I/O threads.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "server/runs/budgets.hpp"
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
  run_manager(const config& c, journal& j, executor& e, std::string node);
  // Adopts the runs a previous berthd left (at once on SQLite; after their lease on a shared database), then
  // schedules the queue.
  void start();
  // Stops admitting runs (503) and scheduling; the executor is detached separately.
  void stop();
  store::run_record submit(const run_request& r);  // throws request_error (429 queue full, 503 stopping)
  cancel_result cancel(const std::string& id);
  // A run that could not be admitted but whose caller must still get an answer (a chat message): stored as
  // `failed` ("not started: <why>") with its `done`, so its owed replies are sent and history shows it.
  store::run_record record_refused(const run_request& r, const std::string& why);
  // A schedule's firing: the run is stored and the schedule moves on (`step`) in one transaction; a full queue
  // records the run as failed instead (its reason says so). Nothing when the firing was taken already.
  std::optional<store::run_record> submit_scheduled(const run_request& r, const store::schedule_step& step);
  // Schedules now: the engine came back, a slot may have freed or a run was queued (here or elsewhere).
  void retry() { schedule(); }
  // Follows an active run nobody alive follows (found by the reconciler or the lease loop).
  void adopt(const std::string& id);
  // Adopts every such run and returns dead nodes' claims to the queue; returns how many runs were adopted.
  // `own`: also this node's runs whose thread let go (the reconciler's job, at BERTH_RECONCILE_S).
  int adopt_orphans(bool own = true);
  // While this says no, nothing is launched: runs wait in the queue instead of failing.
  void set_engine_check(std::function<bool()> ok) { engine_ok_ = std::move(ok); }
  // Why a user may not start runs now (over a daily budget), and when that ends; checked at submission.
  void set_budget_check(std::function<std::optional<over_budget>(const std::string& user)> f) { budget_ = std::move(f); }
  queue_stats stats();
  request_limits limits() const;
  const std::string& node() const { return node_; }
  // True once after a run thread of this node let go of its run (store failure): the next heartbeat follows
  // this node's own orphans again instead of waiting for the reconciler.
  bool take_let_go() { return let_go_.exchange(false); }
  // How long another node's silence must last before its runs are taken: 0 on SQLite (one instance at a
  // time: any other owner is a previous process).
  std::int64_t lease_ms() const;

 private:
  void handed_back();  // a launched run's thread let go of it
  void finished(const store::run_record& rec);
  void requeue(const store::run_record& rec);
  void schedule();
  void launch(const store::run_record& rec);
  // The run, its first event and its replies, atomically (and the schedule's step with them); nullopt when the
  // step was taken already.
  std::optional<store::run_record> store_queued(const run_request& r, const std::string& owner,
                                                const std::optional<store::schedule_step>& step = std::nullopt);
  store::run_record finish_refused(store::run_record rec, const std::string& why);

  const config& cfg_;
  journal& journal_;
  executor& exec_;
  const std::string node_;
  std::mutex adopt_m_;     // two adopters in this process never launch one run twice
  std::mutex schedule_m_;  // one claimer at a time in this process (the database serializes instances)
  std::atomic<bool> schedule_again_{false};
  std::atomic<std::size_t> running_{0};  // launched here and not yet handed back
  std::atomic<bool> stopping_{false};    // set from the signal handler's I/O thread without a lock
  std::atomic<bool> let_go_{false};
  std::function<bool()> engine_ok_;
  std::function<std::optional<over_budget>(const std::string& user)> budget_;
};

}  // namespace berth::runs
