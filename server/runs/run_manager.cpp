#include "server/runs/run_manager.hpp"

#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/runs/metrics.hpp"
#include "server/runs/task_builder.hpp"

namespace berth::runs {

run_manager::run_manager(const config& c, journal& j, executor& e, std::string node)
    : cfg_(c), journal_(j), exec_(e), node_(std::move(node)) {
  exec_.set_callbacks({.on_finished = [this](const store::run_record& r) { finished(r); },
                       .on_requeue = [this](const store::run_record& r) { requeue(r); },
                       .on_let_go = [this](const store::run_record&) { let_go_ = true; }});
}

request_limits run_manager::limits() const {
  return {.engines = cfg_.engines, .default_engine = cfg_.default_engine, .max_timeout_s = cfg_.run_timeout_s,
          .max_idle_timeout_s = cfg_.idle_timeout_s};
}

std::int64_t run_manager::lease_ms() const {
  return journal_.db().shared() ? static_cast<std::int64_t>(cfg_.lease_s) * 1000 : 0;
}

void run_manager::start() {
  if (int n = adopt_orphans(); n > 0) log::info("re-attached runs left by a previous berthd", {{"count", std::to_string(n)}});
  if (auto waiting = journal_.db().count_waiting(); waiting > 0)
    log::info("runs waiting in the queue", {{"count", std::to_string(waiting)}});
  schedule();
}

void run_manager::stop() { stopping_ = true; }  // no lock: called on an I/O thread, which must not wait

store::run_record run_manager::submit(const run_request& r) {
  if (stopping_) throw request_error(refusal::unavailable, "shutting_down", "berthd is shutting down; retry shortly");
  if (auto missing = missing_credentials(cfg_, r.engine); !missing.empty())
    throw request_error(refusal::unavailable, "credentials_missing", missing);
  if (budget_) {
    if (auto over = budget_(r.user)) {
      request_error e(refusal::over_budget, "budget_exceeded", over->reason + "; it resets at " + format_time_ms(over->resets_at_ms));
      e.resets_at_ms = over->resets_at_ms;
      throw e;
    }
  }
  // Admission counts the runs waiting in the shared queue; two submissions racing may both pass at the edge,
  // which lets the queue exceed its bound by the number of concurrent submitters, never more.
  if (journal_.db().count_waiting() >= cfg_.queue_max) {
    if (engine_ok_ && !engine_ok_())
      throw request_error(refusal::unavailable, "engine_unavailable", "the docker engine does not answer and the run queue is full; retry later");
    throw request_error(refusal::busy, "queue_full", "the run queue is full (" + std::to_string(cfg_.queue_max) +
                                                         " waiting); retry later");
  }
  auto rec = *store_queued(r, "");
  global_metrics().runs_submitted.fetch_add(1, std::memory_order_relaxed);
  log::info("run queued", {{"run", rec.id}, {"user", rec.user}, {"engine", rec.engine}});
  schedule();
  return rec;
}

std::optional<store::run_record> run_manager::store_queued(const run_request& r, const std::string& owner,
                                                          const std::optional<store::schedule_step>& step) {
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
  rec.owner = owner;
  rec.trigger = r.trigger;
  rec.scheduled_for = r.scheduled_for;
  event first{rec.id, 1, "status", event_data(rec.id, {{"status", "queued"}}), rec.created_at};
  std::vector<store::delivery_record> replies;
  for (const auto& route : r.replies) {
    store::delivery_record d;
    d.kind = route.kind;
    d.target = route.target;
    replies.push_back(std::move(d));
  }
  if (!journal_.insert(rec, first, replies, step)) return std::nullopt;
  return rec;
}

store::run_record run_manager::record_refused(const run_request& r, const std::string& why) {
  // Stored owned by this node, so no scheduler claims it: its only step left is `done`.
  return finish_refused(*store_queued(r, node_), why);
}

store::run_record run_manager::finish_refused(store::run_record rec, const std::string& why) {
  std::int64_t seq = rec.last_seq;
  rec.reason = "not started: " + why;
  journal_.finish(rec.id, seq, run_end::failed, rec.reason);
  log::warn("run refused at submission; recorded as failed so its reply says why", {{"run", rec.id}, {"reason", why}});
  rec.status = std::string(name_of(run_end::failed));
  return rec;
}

std::optional<store::run_record> run_manager::submit_scheduled(const run_request& r, const store::schedule_step& step) {
  std::string refused = missing_credentials(cfg_, r.engine);
  if (refused.empty() && budget_)
    if (auto over = budget_(r.user)) refused = "budget exceeded: " + over->reason;
  if (refused.empty() && journal_.db().count_waiting() >= cfg_.queue_max)
    refused = "the run queue is full (" + std::to_string(cfg_.queue_max) + " waiting)";
  auto rec = store_queued(r, refused.empty() ? "" : node_, step);
  if (!rec) return std::nullopt;
  if (!refused.empty()) return finish_refused(*rec, refused);
  global_metrics().runs_submitted.fetch_add(1, std::memory_order_relaxed);
  log::info("scheduled run queued", {{"run", rec->id}, {"user", rec->user}, {"trigger", rec->trigger}});
  schedule();
  return rec;
}

void run_manager::launch(const store::run_record& rec) {
  ++running_;
  exec_.launch(rec);
}

// Claims what the caps allow and launches it. Concurrent callers fold into one: whoever holds the claim
// goes round again while anyone asked meanwhile, so no request to schedule is lost.
void run_manager::schedule() {
  schedule_again_ = true;
  for (;;) {
    std::unique_lock lock(schedule_m_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    while (schedule_again_.exchange(false)) {
      if (stopping_ || (engine_ok_ && !engine_ok_())) return;
      std::vector<store::run_record> claimed;
      try {
        claimed = journal_.db().claim_queued(node_, {.max_concurrent = cfg_.max_concurrent, .max_per_user = cfg_.max_per_user});
      } catch (const std::exception& e) {
        if (!store::is_store_error(e)) throw;
        log::warn("the queue could not be read; runs wait until the database answers", {{"error", e.what()}});
        return;  // the lease loop schedules again on its next tick
      }
      for (const auto& rec : claimed) {
        if (stopping_) {  // claimed as the shutdown began: back to the queue (or, failing that, after the lease)
          try {
            journal_.db().release_claim(rec.id, node_);
          } catch (const std::exception&) {
          }
          continue;
        }
        launch(rec);
      }
    }
    lock.unlock();
    if (!schedule_again_.load()) return;
  }
}

void run_manager::handed_back() {
  for (auto n = running_.load(); n > 0 && !running_.compare_exchange_weak(n, n - 1);) {
  }
}

void run_manager::finished(const store::run_record&) {
  handed_back();
  schedule();
}

void run_manager::requeue(const store::run_record& rec) {
  handed_back();
  // Its status is `queued` again (stored by its thread before it handed it back); it goes back to the queue
  // for any instance. Not rescheduled here: the engine is down; the health loop calls retry() when it answers.
  try {
    journal_.db().release_claim(rec.id, node_);
  } catch (const std::exception& e) {
    log::warn("a requeued run keeps its claim until this node's lease runs out", {{"run", rec.id}, {"error", e.what()}});
  }
}

cancel_result run_manager::cancel(const std::string& id) {
  auto rec = journal_.db().get_run(id);
  if (!rec) return cancel_result::not_found;
  // Ended already (its thread may still be removing the container): cancelling again changes nothing.
  if (is_terminal_status(rec->status)) return cancel_result::already_finished;
  if (exec_.cancel(id)) return cancel_result::stopping;
  if (rec->status == "queued" && journal_.db().claim_for_cancel(id, node_)) {
    // Out of the queue and owned by this node, so no one else writes it.
    std::int64_t seq = journal_.db().get_run(id).value_or(*rec).last_seq;
    journal_.finish(id, seq, run_end::cancelled, "cancelled by request");
    log::info("queued run cancelled", {{"run", id}});
    return cancel_result::cancelled;
  }
  // Claimed or active and followed elsewhere (another instance, or a run thread about to start): its owner
  // stops it when it learns of the request. Followed by nobody alive: adopt it here and stop it.
  journal_.db().request_cancel(id);
  adopt(id);
  if (exec_.cancel(id)) return cancel_result::stopping;
  if (auto now = journal_.db().get_run(id); now && is_terminal_status(now->status)) return cancel_result::already_finished;
  // The request is stored: the owner (another instance, or this one about to launch it) stops the run on the
  // cancel notification or its next heartbeat; a later adopter finds it too.
  log::info("cancel asked of the run's owner", {{"run", id}});
  return cancel_result::stopping;
}

void run_manager::adopt(const std::string& id) {
  // The store decides who follows a run (take_over is atomic over every instance); adopt_m_ keeps two
  // threads of this process from launching it twice. The run is read after taking it: a run whose thread just
  // ended is terminal in the store by then.
  std::lock_guard adopting(adopt_m_);
  if (stopping_ || exec_.is_active(id)) return;
  if (!journal_.db().take_over(id, node_, now_ms(), lease_ms())) return;
  auto rec = journal_.db().get_run(id);
  if (!rec || (rec->status != "starting" && rec->status != "running")) return;
  log::info("adopting an active run nobody follows", {{"run", id}, {"status", rec->status}});
  launch(*rec);
}

int run_manager::adopt_orphans(bool own) {
  if (stopping_) return 0;
  int adopted = 0;
  const auto now = now_ms();
  if (int n = journal_.db().release_dead_claims(node_, now, lease_ms()); n > 0)
    log::info("runs claimed by a node that died are back in the queue", {{"count", std::to_string(n)}});
  for (const auto& id : journal_.db().adoptable_runs(node_, now, lease_ms(), own)) {
    if (exec_.is_active(id)) continue;
    const bool before = exec_.is_active(id);
    adopt(id);
    if (!before && exec_.is_active(id)) ++adopted;
  }
  return adopted;
}

queue_stats run_manager::stats() {
  std::size_t waiting = 0;
  try {
    waiting = static_cast<std::size_t>(journal_.db().count_waiting());
  } catch (const std::exception&) {
  }
  return {.queued = waiting, .running = running_.load()};
}

}  // namespace berth::runs
