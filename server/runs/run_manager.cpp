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
  return {cfg_.engines, cfg_.default_engine, cfg_.run_timeout_s, cfg_.idle_timeout_s};
}

void run_manager::start() {
  std::lock_guard lock(m_);
  for (const auto& r : journal_.db().runs_in_status({"starting", "running"})) {
    log::info("re-attaching run after restart", {{"run", r.id}, {"status", r.status}});
    ++running_;
    ++per_user_[r.user];
    exec_.launch(r);
  }
  for (const auto& r : journal_.db().runs_in_status({"queued"})) queue_.push_back({r.id, r.user});
  if (!queue_.empty()) log::info("restored queued runs", {{"count", std::to_string(queue_.size())}});
  schedule_locked();
}

void run_manager::stop() { stopping_ = true; }  // no lock: called on an I/O thread, which must not wait

store::run_record run_manager::submit(const run_request& r) {
  std::lock_guard lock(m_);
  if (stopping_) throw request_error(refusal::unavailable, "shutting_down", "berthd is shutting down; retry shortly");
  if (auto missing = missing_credentials(cfg_, r.engine); !missing.empty())
    throw request_error(refusal::unavailable, "credentials_missing", missing);
  bool can_start_now = running_ < static_cast<std::size_t>(cfg_.max_concurrent) &&
                       per_user_[r.user] < cfg_.max_per_user && queue_.empty();
  bool engine_down = engine_ok_ && !engine_ok_();
  if (!can_start_now && queue_.size() >= static_cast<std::size_t>(cfg_.queue_max) && engine_down)
    throw request_error(refusal::unavailable, "engine_unavailable", "the docker engine does not answer and the run queue is full; retry later");
  if (!can_start_now && queue_.size() >= static_cast<std::size_t>(cfg_.queue_max))
    throw request_error(refusal::busy, "queue_full", "the run queue is full (" + std::to_string(cfg_.queue_max) +
                                               " waiting); retry later");
  auto rec = store_queued(r);
  global_metrics().runs_submitted.fetch_add(1, std::memory_order_relaxed);
  log::info("run queued", {{"run", rec.id}, {"user", rec.user}, {"engine", rec.engine}});
  queue_.push_back({rec.id, rec.user});
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
  std::lock_guard lock(m_);
  auto rec = store_queued(r);  // stored like any run, never scheduled: its only step left is `done`
  std::int64_t seq = rec.last_seq;
  store::run_update u;
  u.status = "failed";
  u.reason = "not started: " + why;
  u.finished_at = now_ms();
  journal_.write(rec.id, seq, {{"done", {{"status", "failed"}, {"exit_code", nullptr}, {"reason", *u.reason}}}}, u);
  log::warn("run refused at submission; recorded as failed so its reply says why", {{"run", rec.id}, {"reason", why}});
  rec.status = "failed";
  rec.reason = *u.reason;
  return rec;
}

void run_manager::schedule_locked() {
  if (stopping_ || (engine_ok_ && !engine_ok_())) return;
  for (auto it = queue_.begin(); it != queue_.end() && running_ < static_cast<std::size_t>(cfg_.max_concurrent);) {
    if (per_user_[it->user] >= cfg_.max_per_user) { ++it; continue; }
    auto rec = journal_.db().get_run(it->id);
    it = queue_.erase(it);
    if (!rec || rec->status != "queued") continue;
    ++running_;
    ++per_user_[rec->user];
    exec_.launch(*rec);
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
  queue_.push_front({rec.id, rec.user});
  // Not rescheduled here: the engine is down. The health loop calls retry_queued() when it answers again.
}

cancel_result run_manager::cancel(const std::string& id) {
  {
    std::lock_guard lock(m_);
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const item& i) { return i.id == id; });
    if (it != queue_.end()) {
      queue_.erase(it);
      auto rec = journal_.db().get_run(id);
      std::int64_t seq = rec->last_seq;
      store::run_update u;
      u.status = "cancelled";
      u.reason = "cancelled by request";
      u.finished_at = now_ms();
      journal_.write(id, seq, {{"done", {{"status", "cancelled"}, {"exit_code", nullptr}, {"reason", *u.reason}}}}, u);
      log::info("queued run cancelled", {{"run", id}});
      return cancel_result::cancelled;
    }
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
  std::lock_guard lock(m_);
  if (stopping_ || exec_.is_active(id)) return;
  auto rec = journal_.db().get_run(id);  // read after the is_active check: a run that just ended is terminal here
  if (!rec || (rec->status != "starting" && rec->status != "running")) return;
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
  return {queue_.size(), running_};
}

}  // namespace berth::runs
