#include "server/runs/run_manager.hpp"

#include <algorithm>

#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/runs/metrics.hpp"
#include "server/runs/task_builder.hpp"

namespace berth::runs {

run_manager::run_manager(const config& c, journal& j, executor& e) : cfg_(c), journal_(j), exec_(e) {
  exec_.set_callbacks({[this](const store::run_record& r) { finished(r); },
                       [this](const store::run_record& r) { requeue(r); }});
}

request_limits run_manager::limits() const {
  return {.engines = cfg_.engines, .default_engine = cfg_.default_engine, .max_timeout_s = cfg_.run_timeout_s,
          .max_idle_timeout_s = cfg_.idle_timeout_s};
}

void run_manager::start() {
  // Read before the lock; nothing else schedules before start() returns.
  auto active = journal_.db().runs_in_status({"starting", "running"});
  auto queued = journal_.db().runs_in_status({"queued"});
  std::lock_guard lock(m_);
  for (const auto& r : active) {
    log::info("re-attaching run after restart", {{"run", r.id}, {"status", r.status}});
    ++running_;
    ++per_user_[r.user];
    exec_.launch(r);
  }
  for (auto& r : queued) queue_.push_back(std::move(r));
  if (!queue_.empty()) log::info("restored queued runs", {{"count", std::to_string(queue_.size())}});
  schedule_locked();
}

void run_manager::stop() { stopping_ = true; }  // no lock: called on an I/O thread, which must not wait

store::run_record run_manager::submit(const run_request& r) {
  if (stopping_) throw request_error(refusal::unavailable, "shutting_down", "berthd is shutting down; retry shortly");
  if (auto missing = missing_credentials(cfg_, r.engine); !missing.empty())
    throw request_error(refusal::unavailable, "credentials_missing", missing);
  const bool engine_down = engine_ok_ && !engine_ok_();  // may ask the engine: before the lock
  {
    // Admission under the lock, counting runs being stored as queued already; the store write after it.
    std::lock_guard lock(m_);
    const std::size_t waiting = queue_.size() + admitting_;
    bool can_start_now = running_ < static_cast<std::size_t>(cfg_.max_concurrent) &&
                         per_user_[r.user] < cfg_.max_per_user && waiting == 0;
    if (!can_start_now && waiting >= static_cast<std::size_t>(cfg_.queue_max) && engine_down)
      throw request_error(refusal::unavailable, "engine_unavailable", "the docker engine does not answer and the run queue is full; retry later");
    if (!can_start_now && waiting >= static_cast<std::size_t>(cfg_.queue_max))
      throw request_error(refusal::busy, "queue_full", "the run queue is full (" + std::to_string(cfg_.queue_max) +
                                                 " waiting); retry later");
    ++admitting_;
  }
  store::run_record rec;
  try {
    rec = store_queued(r);
  } catch (...) {
    std::lock_guard lock(m_);
    --admitting_;
    throw;
  }
  global_metrics().runs_submitted.fetch_add(1, std::memory_order_relaxed);
  log::info("run queued", {{"run", rec.id}, {"user", rec.user}, {"engine", rec.engine}});
  std::lock_guard lock(m_);
  --admitting_;
  queue_.push_back(rec);
  schedule_locked();
  return rec;
}

store::run_record run_manager::store_queued(const run_request& r) {
  store::run_record rec;
  rec.id = new_run_id();
  rec.user = r.user;
  rec.engine = r.engine;
  rec.session = r.session;
  rec.model = r.model;
  rec.message = r.message;
  rec.options = r.options.dump();
  rec.status = "queued";
  rec.created_at = now_ms();
  rec.last_seq = 1;
  event first{rec.id, 1, "status", event_data(rec.id, {{"status", "queued"}}), rec.created_at};
  std::vector<store::delivery_record> replies;
  for (const auto& route : r.replies) {
    store::delivery_record d;
    d.kind = route.kind;
    d.target = route.target;
    replies.push_back(std::move(d));
  }
  journal_.insert(rec, first, replies);
  return rec;
}

store::run_record run_manager::record_refused(const run_request& r, const std::string& why) {
  // No lock: this run is never queued nor scheduled; its only step left is `done`.
  auto rec = store_queued(r);
  std::int64_t seq = rec.last_seq;
  rec.reason = "not started: " + why;
  journal_.finish(rec.id, seq, run_end::failed, rec.reason);
  log::warn("run refused at submission; recorded as failed so its reply says why", {{"run", rec.id}, {"reason", why}});
  rec.status = std::string(name_of(run_end::failed));
  return rec;
}

// Launching starts a thread and returns; no store or Docker I/O happens under the lock.
void run_manager::schedule_locked() {
  if (stopping_ || (engine_ok_ && !engine_ok_())) return;
  for (auto it = queue_.begin(); it != queue_.end() && running_ < static_cast<std::size_t>(cfg_.max_concurrent);) {
    if (per_user_[it->user] >= cfg_.max_per_user) { ++it; continue; }
    store::run_record rec = std::move(*it);
    it = queue_.erase(it);
    ++running_;
    ++per_user_[rec.user];
    exec_.launch(rec);
  }
}

void run_manager::finished(const store::run_record& rec) {
  std::lock_guard lock(m_);
  if (running_ > 0) --running_;
  if (auto it = per_user_.find(rec.user); it != per_user_.end() && --it->second <= 0) per_user_.erase(it);
  schedule_locked();
}

void run_manager::requeue(const store::run_record& rec) {
  std::lock_guard lock(m_);
  if (running_ > 0) --running_;
  if (auto it = per_user_.find(rec.user); it != per_user_.end() && --it->second <= 0) per_user_.erase(it);
  queue_.push_front(rec);  // its status is `queued` again (stored by its thread before it handed it back)
  // Not rescheduled here: the engine is down. The health loop calls retry_queued() when it answers again.
}

cancel_result run_manager::cancel(const std::string& id) {
  std::optional<store::run_record> queued;
  {
    std::lock_guard lock(m_);
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const store::run_record& q) { return q.id == id; });
    if (it != queue_.end()) {
      queued = std::move(*it);
      queue_.erase(it);
    }
  }
  if (queued) {  // out of the queue, so no one else writes it: its `done` is written without the lock
    std::int64_t seq = journal_.db().get_run(id).value_or(*queued).last_seq;
    journal_.finish(id, seq, run_end::cancelled, "cancelled by request");
    log::info("queued run cancelled", {{"run", id}});
    return cancel_result::cancelled;
  }
  // Ended already (its thread may still be removing the container): cancelling again changes nothing.
  auto rec = journal_.db().get_run(id);
  if (!rec) return cancel_result::not_found;
  if (is_terminal_status(rec->status)) return cancel_result::already_finished;
  if (exec_.cancel(id)) return cancel_result::stopping;
  // Active in the store but followed by no thread (its thread gave up on a store failure and the reconciler
  // has not come by yet): follow it now, and stop it as soon as it is followed.
  log::info("cancel: the run had no thread following it; adopting it to stop it", {{"run", id}});
  adopt(id);
  if (exec_.cancel(id)) return cancel_result::stopping;
  log::warn("cancel: the run could not be adopted to be stopped", {{"run", id}});
  throw request_error(refusal::unavailable, "not_cancellable_now", "the run could not be stopped now (berthd is shutting down or the "
                                                  "run just changed state); retry");
}

void run_manager::adopt(const std::string& id) {
  // adopt_m_ keeps two adopters from launching one run twice; the store read happens outside m_. The run is
  // read after the is_active check: a run whose thread just ended is terminal in the store by then.
  std::lock_guard adopting(adopt_m_);
  if (stopping_ || exec_.is_active(id)) return;
  auto rec = journal_.db().get_run(id);
  if (!rec || (rec->status != "starting" && rec->status != "running")) return;
  std::lock_guard lock(m_);
  if (stopping_ || exec_.is_active(id)) return;
  log::info("adopting an active run nobody follows", {{"run", id}, {"status", rec->status}});
  ++running_;
  ++per_user_[rec->user];
  exec_.launch(*rec);
}

void run_manager::retry() {
  std::lock_guard lock(m_);
  schedule_locked();
}

queue_stats run_manager::stats() {
  std::lock_guard lock(m_);
  return {.queued = queue_.size(), .running = running_};
}

}  // namespace berth::runs
