// When a due schedule fires, and where it goes next. Pure (the cron side needs the tz database).
// A firing found later than its grace (berthd was down, the database away) is missed: `skip` drops it,
// `once` runs one catch-up for the first missed firing; either way the schedule moves to its next firing
// after now, so downtime never turns into a burst.
#pragma once
#include <cstdint>
#include <optional>

#include "server/store/store.hpp"

namespace berth::schedule {

// Far in the future: a cron expression that never fires again parks its schedule here.
inline constexpr std::int64_t never_ms = 253402300799000;  // 9999-12-31T23:59:59Z

// The schedule's next firing strictly after `after_ms`: cron in its zone, or every interval_s from its creation.
std::optional<std::int64_t> next_firing_after(const store::schedule_record& s, std::int64_t after_ms);

// How late a firing may be found and still count as on time: half its period, between 1 s and 60 s.
std::int64_t grace_ms(const store::schedule_record& s);

struct firing {
  bool fire = false;
  std::int64_t scheduled_for = 0;  // the firing the run stands for
  std::int64_t next_at = 0;        // where the schedule goes
  bool missed = false;             // found past its grace
};

firing plan_firing(const store::schedule_record& s, std::int64_t now_ms);

}  // namespace berth::schedule
