// Five-field cron expressions (minute hour day-of-month month day-of-week) and when they fire next in a time
// zone. Pure: no clock, no I/O (the zone comes from the system's tz database through date::locate_zone).
// Syntax per field: `*`, `n`, `a-b`, `*/s`, `a-b/s`, `n/s`, lists with `,`; months jan–dec and days sun–sat by
// name (any case); day-of-week 0–7 with 0 and 7 both Sunday. When both day fields are restricted a day matches
// either (classic cron); when one is `*` only the other counts.
// Time changes: a local time that does not exist (clocks jump forward) fires at the same distance after the
// jump (02:30 in a skipped hour fires at 03:30 new time); a local time that happens twice (clocks go back)
// fires once, at its first occurrence.
#pragma once
#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace date { class time_zone; }

namespace berth::schedule {

struct cron_spec {
  std::bitset<60> minute;
  std::bitset<24> hour;
  std::bitset<32> day;    // 1..31
  std::bitset<13> month;  // 1..12
  std::bitset<7> weekday;  // 0 = Sunday
  bool any_day = true;      // day-of-month was `*`
  bool any_weekday = true;  // day-of-week was `*`
};

struct cron_error {
  std::string field;    // minute | hour | day-of-month | month | day-of-week | expression
  std::string message;  // names the field and what is wrong with it
};

std::variant<cron_spec, cron_error> parse_cron(std::string_view expr);

// The first firing strictly after `after`, or none within five years (e.g. `0 0 30 2 *`).
std::optional<std::chrono::sys_seconds> next_fire(const cron_spec& c, std::chrono::sys_seconds after, const date::time_zone* tz);

// The zone named `name` (IANA, e.g. Europe/Berlin; empty: UTC); null when unknown.
const date::time_zone* find_zone(const std::string& name);

}  // namespace berth::schedule
