#include <catch2/catch.hpp>

#include <cstdio>

#include <date/date.h>
#include <date/tz.h>

#include "server/schedule/cron.hpp"
#include "server/schedule/firing.hpp"

using namespace berth::schedule;
using namespace std::chrono;

namespace {
cron_spec cron(const char* e) {
  auto r = parse_cron(e);
  if (auto* err = std::get_if<cron_error>(&r)) FAIL(err->message);
  return std::get<cron_spec>(r);
}
std::string error_of(const char* e) {
  auto r = parse_cron(e);
  auto* err = std::get_if<cron_error>(&r);
  return err ? err->message : "";
}
sys_seconds utc(const char* s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  REQUIRE(std::sscanf(s, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &sec) == 6);
  return date::sys_days{date::year{y} / mo / d} + hours{h} + minutes{mi} + seconds{sec};
}
std::string fmt(std::optional<sys_seconds> t) { return t ? date::format("%FT%TZ", *t) : "never"; }
std::string next(const char* e, const char* after, const char* zone = "UTC") {
  return fmt(next_fire(cron(e), utc(after), find_zone(zone)));
}
}  // namespace

TEST_CASE("cron: fields - ranges - lists - steps - names") {
  auto c = cron("*/15 9-17 * jan,JUL mon-fri");
  CHECK(c.minute.count() == 4);
  CHECK(c.minute.test(45));
  CHECK(c.hour.count() == 9);
  CHECK(c.month.test(1));
  CHECK(c.month.test(7));
  CHECK(c.month.count() == 2);
  CHECK(c.weekday.count() == 5);
  CHECK_FALSE(c.weekday.test(0));
  CHECK(cron("0 0 * * 7").weekday.test(0));  // 7 is Sunday too
  CHECK(cron("5/20 * * * *").minute.count() == 3);  // 5, 25, 45
  CHECK(cron("0-10/5,30 * * * *").minute.count() == 4);
}

TEST_CASE("cron: a bad field is refused by name") {
  CHECK(error_of("61 * * * *") == "minute: 61 is out of range 0-59");
  CHECK(error_of("* 24 * * *") == "hour: 24 is out of range 0-23");
  CHECK(error_of("* * 0 * *") == "day-of-month: 0 is out of range 1-31");
  CHECK(error_of("* * * foo *") == "month: \"foo\" is not a value");
  CHECK(error_of("* * * * 8") == "day-of-week: 8 is out of range 0-7");
  CHECK(error_of("*/0 * * * *") == "minute: step \"0\" is not a positive number");
  CHECK(error_of("5-1 * * * *") == "minute: range 5-1 runs backwards");
  CHECK(error_of("1,,2 * * * *").starts_with("minute: empty list item"));
  CHECK(error_of("* * * *").starts_with("a cron expression has five fields"));
  CHECK(error_of("* * * * * *").starts_with("a cron expression has five fields"));
}

TEST_CASE("cron: next firing - month and day rules") {
  CHECK(next("30 14 * * *", "2026-12-04T10:00:00Z") == "2026-12-04T14:30:00Z");
  CHECK(next("30 14 * * *", "2026-12-04T14:30:00Z") == "2026-12-05T14:30:00Z");  // strictly after
  CHECK(next("0 0 1 * *", "2026-12-04T10:00:00Z") == "2027-01-01T00:00:00Z");
  CHECK(next("0 12 * * mon", "2026-12-04T10:00:00Z") == "2026-12-07T12:00:00Z");  // 2026-12-04 is a Friday
  // Both day fields restricted: either matches (the 13th, or any Friday).
  CHECK(next("0 0 13 * fri", "2026-12-05T00:00:00Z") == "2026-12-11T00:00:00Z");
  CHECK(next("0 0 29 2 *", "2026-03-01T00:00:00Z") == "2028-02-29T00:00:00Z");
  CHECK(next("0 0 30 2 *", "2026-03-01T00:00:00Z") == "never");
}

TEST_CASE("cron: time zones and daylight saving changes") {
  // Berlin: CET (+1) in winter, CEST (+2) in summer.
  CHECK(next("0 9 * * *", "2026-12-04T00:00:00Z", "Europe/Berlin") == "2026-12-04T08:00:00Z");
  CHECK(next("0 9 * * *", "2026-07-04T00:00:00Z", "Europe/Berlin") == "2026-07-04T07:00:00Z");
  // 2026-03-29 02:00 CET the clocks jump to 03:00: 02:30 does not exist and fires at 03:30 CEST (01:30 UTC).
  CHECK(next("30 2 * * *", "2026-03-29T00:00:00Z", "Europe/Berlin") == "2026-03-29T01:30:00Z");
  CHECK(next("30 2 * * *", "2026-03-29T01:30:00Z", "Europe/Berlin") == "2026-03-30T00:30:00Z");
  // 2026-10-25 03:00 CEST the clocks go back to 02:00: 02:30 happens twice and fires once, the first time.
  CHECK(next("30 2 * * *", "2026-10-25T00:00:00Z", "Europe/Berlin") == "2026-10-25T00:30:00Z");
  CHECK(next("30 2 * * *", "2026-10-25T00:30:00Z", "Europe/Berlin") == "2026-10-26T01:30:00Z");
  // An hourly job keeps its wall-clock minute across the change and does not fire twice in the repeated hour.
  CHECK(next("15 * * * *", "2026-10-25T00:15:00Z", "Europe/Berlin") == "2026-10-25T02:15:00Z");
  CHECK(find_zone("Mars/Olympus") == nullptr);
  CHECK(find_zone("") != nullptr);
}

TEST_CASE("schedules: an interval keeps its rhythm - a late firing within its grace runs - a missed one is skipped or caught up once") {
  berth::store::schedule_record s;
  s.interval_s = 10;
  s.created_at = 1000000;
  CHECK(next_firing_after(s, 1000000) == 1010000);
  CHECK(next_firing_after(s, 1015000) == 1020000);
  CHECK(grace_ms(s) == 5000);
  s.next_at = 1010000;
  auto on_time = plan_firing(s, 1010040);
  CHECK(on_time.fire);
  CHECK_FALSE(on_time.missed);
  CHECK(on_time.scheduled_for == 1010000);
  CHECK(on_time.next_at == 1020000);
  auto missed = plan_firing(s, 1047000);  // berthd was down over three firings
  CHECK(missed.missed);
  CHECK_FALSE(missed.fire);               // skip: nothing now
  CHECK(missed.next_at == 1050000);       // and the next after now, not the next after the missed one
  s.missed = "once";
  auto caught_up = plan_firing(s, 1047000);
  CHECK(caught_up.fire);                  // once: one run for the first missed firing
  CHECK(caught_up.scheduled_for == 1010000);
  CHECK(caught_up.next_at == 1050000);
  berth::store::schedule_record c;
  c.cron = "0 0 30 2 *";
  CHECK_FALSE(next_firing_after(c, 0));
  c.cron = "*/5 * * * *";
  c.timezone = "UTC";
  CHECK(grace_ms(c) == 30000);
  CHECK(next_firing_after(c, 1000) == 300000);
}
