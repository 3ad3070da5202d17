#include "server/runs/journal.hpp"

#include "common/strings.hpp"
#include "server/runs/metrics.hpp"

namespace berth::runs {

void journal::write(const std::string& run, std::int64_t& last_seq, std::vector<draft> drafts,
                    const store::run_update& u) {
  std::vector<event> events;
  events.reserve(drafts.size());
  std::int64_t seq = last_seq;
  const std::int64_t ts = now_ms();
  for (auto& d : drafts) events.push_back({run, ++seq, std::move(d.type), event_data(run, d.fields), ts});
  store_.commit(run, events, u);
  last_seq = seq;
  auto& m = global_metrics();
  m.events_stored.fetch_add(events.size(), std::memory_order_relaxed);
  if (u.status && is_terminal_status(*u.status) && u.finished_at) {
    double duration = -1;
    if (auto r = store_.get_run(run); r && r->started_at) duration = static_cast<double>(*u.finished_at - *r->started_at) / 1000.0;
    m.run_finished(*u.status, duration);
  }
  if (u.status && is_terminal_status(*u.status) && finished_) finished_(run);
  if (events.empty()) return;
  std::vector<event_ptr> ptrs;
  ptrs.reserve(events.size());
  for (auto& e : events) ptrs.push_back(std::make_shared<const event>(std::move(e)));
  bus_.publish(run, ptrs);
}

void journal::finish(const std::string& run, std::int64_t& last_seq, run_end end, const std::string& reason,
                     std::optional<int> exit_code) {
  const std::string status(name_of(end));
  store::run_update u;
  u.status = status;
  u.reason = reason;
  u.exit_code = exit_code;
  u.finished_at = now_ms();
  nlohmann::json code = exit_code ? nlohmann::json(*exit_code) : nlohmann::json(nullptr);
  write(run, last_seq, {{"done", {{"status", status}, {"exit_code", std::move(code)}, {"reason", reason}}}}, u);
}

bool journal::insert(const store::run_record& r, const event& first, const std::vector<store::delivery_record>& replies,
                     const std::optional<store::schedule_step>& step) {
  if (!store_.insert_run(r, first, replies, step)) return false;
  bus_.publish(r.id, {std::make_shared<const event>(first)});
  return true;
}

}  // namespace berth::runs
