#include "server/schedule/scheduler.hpp"

#include <algorithm>
#include <chrono>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/schedule/firing.hpp"

namespace berth::schedule {

namespace {
constexpr auto max_sleep = std::chrono::seconds(1);
constexpr int due_batch = 100;
}

runs::run_request request_for(const store::schedule_record& s, std::int64_t scheduled_for, const std::string& default_engine) {
  runs::run_request r;
  r.user = s.user;
  r.message = s.message;
  r.engine = s.engine.empty() ? default_engine : s.engine;
  r.session = s.session;
  r.model = s.model;
  r.options = parse_json(s.options);
  if (!r.options.is_object()) r.options = nlohmann::json::object();
  r.trigger = (s.kind == "heartbeat" ? "heartbeat:" : "schedule:") + (s.kind == "heartbeat" ? s.user : s.id);
  r.scheduled_for = scheduled_for;
  auto replies = parse_json(s.replies);
  if (replies.is_array())
    for (const auto& rep : replies)
      if (rep.is_object() && rep.contains("kind") && rep.contains("target"))
        r.replies.push_back({rep.value("kind", ""), rep["target"].dump()});
  return r;
}

scheduler::scheduler(const config& c, store::store& s, runs::run_manager& m) : cfg_(c), store_(s), manager_(m) {}

scheduler::~scheduler() { stop(); }

void scheduler::start() { thread_ = std::thread([this] { loop(); }); }

void scheduler::stop() {
  {
    std::lock_guard lock(m_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int scheduler::fire_due() {
  int started = 0;
  const auto now = now_ms();
  for (const auto& s : store_.due_schedules(now, due_batch)) {
    const auto f = plan_firing(s, now);
    const store::schedule_step step{.id = s.id, .expected = s.next_at, .next = f.next_at};
    if (!f.fire) {
      if (store_.advance_schedule(step))
        log::info("missed firing skipped", {{"schedule", s.id}, {"late_ms", std::to_string(now - s.next_at)}});
      continue;
    }
    if (f.missed) log::info("missed firing: one catch-up run", {{"schedule", s.id}, {"late_ms", std::to_string(now - s.next_at)}});
    if (manager_.submit_scheduled(request_for(s, f.scheduled_for, cfg_.default_engine), step)) ++started;
  }
  return started;
}

void scheduler::loop() {
  std::unique_lock lock(m_);
  while (!stop_) {
    lock.unlock();
    auto wait = std::chrono::milliseconds(max_sleep);
    try {
      fire_due();
      if (auto next = store_.next_schedule_at())
        wait = std::min(wait, std::chrono::milliseconds(std::max<std::int64_t>(0, *next - now_ms())));
    } catch (const std::exception& e) {
      log::warn("schedules not fired this round; retrying", {{"error", e.what()}});
    }
    lock.lock();
    cv_.wait_for(lock, wait, [this] { return stop_; });
  }
}

}  // namespace berth::schedule
