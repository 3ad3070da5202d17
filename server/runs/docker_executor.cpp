#include "server/runs/docker_executor.hpp"

#include <thread>
#include <utility>

#include "common/log.hpp"
#include "server/runs/run_flow.hpp"

namespace berth::runs {

std::string container_name(const std::string& run_id) { return "berth-run-" + run_id; }

docker_executor::docker_executor(const config& c, docker::docker_client& d, journal& j, std::string instance,
                                 token_registry& tokens)
    : cfg_(c), docker_(d), journal_(j), instance_(instance), tokens_(tokens), volumes_(d), spares_(c, d, j.db(), instance, volumes_),
      netns_(c, d, instance) {
  spares_.start();
  netns_.start();
}

docker_executor::~docker_executor() { detach_all(); }

void docker_executor::launch(const store::run_record& rec) {
  auto a = std::make_shared<active_run>();
  a->id = rec.id;
  // Open before the thread starts: a re-attached worker's next model request must not meet a closed token
  // while its thread is still getting going (berthd starts the gateway after re-attaching).
  a->token_opening = tokens_.open(rec.id, rec.user, cfg_.github_token.empty() ? std::string() : git_repo_of_trigger(rec.trigger));
  std::vector<std::jthread> ended;
  {
    std::lock_guard lock(m_);
    // A stop asked of this run before its thread let go of it (a store failure) still holds.
    if (auto it = unfinished_stops_.find(rec.id); it != unfinished_stops_.end()) {
      a->stop_why = it->second;
      unfinished_stops_.erase(it);
    }
    ended.swap(finished_);
    auto& slot = active_[rec.id];
    // The run's previous thread in its last steps: joined here — unless it is the caller (its own ending
    // launched the run again), which must not join itself: the next launch or shutdown joins it.
    if (slot && slot->thread.joinable()) {
      if (slot->thread.get_id() == std::this_thread::get_id()) finished_.push_back(std::move(slot->thread));
      else ended.push_back(std::move(slot->thread));
    }
    slot = a;
    a->thread = std::jthread([this, a, rec] { run_thread(a, rec); });  // under the lock: the thread's own
                                                                       // hand-over at its end waits for it
  }
  // Joins threads that have already returned (immediate); never the caller's own.
  for (auto& t : ended) {
    if (t.get_id() != std::this_thread::get_id()) continue;
    std::lock_guard lock(m_);
    finished_.push_back(std::move(t));
  }
  ended.clear();
}

bool docker_executor::stop(const std::string& id, stop_request why) {
  std::lock_guard lock(m_);
  auto it = active_.find(id);
  if (it == active_.end()) return false;
  it->second->stop_why = why;
  it->second->wake();
  return true;
}

void docker_executor::detach_all() {
  for (;;) {
    std::vector<std::jthread> threads;
    {
      std::lock_guard lock(m_);
      for (auto& [id, a] : active_) {
        a->detach = true;
        a->wake();
        if (a->thread.joinable()) threads.push_back(std::move(a->thread));
      }
      for (auto& t : finished_) threads.push_back(std::move(t));
      finished_.clear();
      if (threads.empty() && active_.empty()) break;
    }
    threads.clear();  // joins: each run thread detaches from its worker and returns
  }
  spares_.stop();
  netns_.stop();
}

void docker_executor::note(const std::string& id, run_note n) {
  std::lock_guard lock(m_);
  auto it = active_.find(id);
  if (it == active_.end()) return;
  {
    std::lock_guard notes(it->second->notes_m);
    for (auto& d : n.events) it->second->notes.events.push_back(std::move(d));
    it->second->notes.used += n.used;
    if (!n.refused.empty()) it->second->notes.refused = std::move(n.refused);
  }
  it->second->wake();
}

bool docker_executor::is_active(const std::string& id) const {
  std::lock_guard lock(m_);
  return active_.count(id) != 0;
}

std::size_t docker_executor::active_count() const {
  std::lock_guard lock(m_);
  return active_.size();
}

void docker_executor::run_thread(const std::shared_ptr<active_run>& a, store::run_record rec) {
  run_steps::ending how = run_steps::ending::finished;
  bool released = false;
  auto release = [&] {
    if (std::exchange(released, true)) return;
    if (cb_.on_finished) cb_.on_finished(rec);
  };
  try {
    // The run's gateway token, opened by launch(), is accepted while this thread follows the run: the flow
    // closes it before storing `done`, this on every other way out.
    struct token_closer {
      token_registry& t;
      const std::string& run;
      std::uint64_t opening;
      ~token_closer() { t.close(run, opening); }
    } close_token{tokens_, rec.id, a->token_opening};
    std::unique_ptr<run_steps> flow;
    if (make_flow_) flow = make_flow_(*a, rec, release);
    else flow = std::make_unique<run_flow>(cfg_, docker_, journal_, instance_, *a, rec, spares_, netns_, volumes_, release, tokens_, sets_, instructions_);
    how = flow->run();
    if (how == run_steps::ending::requeued) rec = flow->as_stored();
  } catch (const store::ownership_lost& e) {
    // Another instance adopted the run (this node's heartbeat lapsed): it follows the worker now.
    log::warn("another instance follows this run now; letting go of it", {{"run", rec.id}, {"error", e.what()}});
    how = run_steps::ending::abandoned;
  } catch (const std::exception& e) {
    // Only the store can fail here (the flow reports everything else). The run stays active in the store and
    // the reconciler adopts it again; its slot under the caps is given back now, or every such failure would
    // keep one slot taken for good and the queue would stall.
    log::error("run thread failed; the reconciler will adopt the run again", {{"run", rec.id}, {"error", e.what()}});
    how = run_steps::ending::abandoned;
  }
  // The callbacks take the manager's lock, so they run outside ours (the manager calls launch under its
  // own). A shutdown joins this thread, so it never races them.
  if (how == run_steps::ending::finished || how == run_steps::ending::abandoned) {
    release();
    // The user's next spare, once this run's container is gone: a warm CLI then resumes the session's
    // transcript as the finished CLI left it (made at `done`, it often saw it still being written).
    spares_.replenish(rec.user);
  }
  if (how == run_steps::ending::requeued && cb_.on_requeue) cb_.on_requeue(rec);
  if (how == run_steps::ending::abandoned && cb_.on_let_go) cb_.on_let_go(rec);
  std::lock_guard lock(m_);
  if (how == run_steps::ending::abandoned && a->stop_why != stop_request::none) unfinished_stops_[rec.id] = a->stop_why;
  if (auto it = active_.find(rec.id); it != active_.end() && it->second == a) {
    if (a->thread.joinable()) finished_.push_back(std::move(a->thread));
    active_.erase(it);
  }
}

}  // namespace berth::runs
