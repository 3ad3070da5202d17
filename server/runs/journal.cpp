#include "server/runs/journal.hpp"

#include "common/strings.hpp"

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
  if (events.empty()) return;
  std::vector<event_ptr> ptrs;
  ptrs.reserve(events.size());
  for (auto& e : events) ptrs.push_back(std::make_shared<const event>(std::move(e)));
  bus_.publish(run, ptrs);
}

}  // namespace berth::runs
