#include "server/schedule/firing.hpp"

#include <algorithm>
#include <variant>

#include "server/schedule/cron.hpp"

namespace berth::schedule {

std::optional<std::int64_t> next_firing_after(const store::schedule_record& s, std::int64_t after_ms) {
  if (s.interval_s > 0) {
    const std::int64_t period = s.interval_s * 1000;
    if (after_ms < s.created_at) return s.created_at + period;
    return s.created_at + ((after_ms - s.created_at) / period + 1) * period;
  }
  auto parsed = parse_cron(s.cron);
  const auto* spec = std::get_if<cron_spec>(&parsed);
  const auto* zone = find_zone(s.timezone);
  if (!spec || !zone) return std::nullopt;
  auto next = next_fire(*spec, std::chrono::sys_seconds{std::chrono::seconds{after_ms / 1000}}, zone);
  if (!next) return std::nullopt;
  return static_cast<std::int64_t>(next->time_since_epoch().count()) * 1000;
}

std::int64_t grace_ms(const store::schedule_record& s) {
  const std::int64_t period = s.interval_s > 0 ? s.interval_s * 1000 : 60000;
  return std::clamp<std::int64_t>(period / 2, 1000, 60000);
}

firing plan_firing(const store::schedule_record& s, std::int64_t now_ms) {
  firing f;
  f.scheduled_for = s.next_at;
  f.missed = now_ms - s.next_at > grace_ms(s);
  f.fire = !f.missed || s.missed == "once";
  f.next_at = next_firing_after(s, std::max(now_ms, s.next_at)).value_or(never_ms);
  return f;
}

}  // namespace berth::schedule
