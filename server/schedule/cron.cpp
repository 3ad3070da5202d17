#include "server/schedule/cron.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include <date/date.h>
#include <date/tz.h>

namespace berth::schedule {
namespace {

struct field_rule {
  const char* name;
  int lo, hi;
  const std::array<std::string_view, 13>* names;  // index = value
};

constexpr std::array<std::string_view, 13> month_names = {"", "jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 13> day_names = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr std::array<field_rule, 5> rules = {{{"minute", 0, 59, nullptr},
                                             {"hour", 0, 23, nullptr},
                                             {"day-of-month", 1, 31, nullptr},
                                             {"month", 1, 12, &month_names},
                                             {"day-of-week", 0, 7, &day_names}}};

std::optional<int> value_of(std::string_view s, const field_rule& r) {
  if (s.empty()) return std::nullopt;
  if (std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (s.size() > 3) return std::nullopt;
    return std::stoi(std::string(s));
  }
  if (!r.names || s.size() != 3) return std::nullopt;
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::size_t i = 0; i < r.names->size(); ++i)
    if (!(*r.names)[i].empty() && (*r.names)[i] == lower) return static_cast<int>(i);
  return std::nullopt;
}

// One field into the set of values it allows; an error names the field.
std::variant<std::vector<int>, cron_error> parse_field(std::string_view text, const field_rule& r) {
  auto fail = [&](const std::string& what) { return cron_error{r.name, std::string(r.name) + ": " + what}; };
  std::vector<int> out;
  const std::string range = std::to_string(r.lo) + "-" + std::to_string(r.hi);
  std::size_t start = 0;
  for (;;) {
    auto comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) return fail("empty list item in \"" + std::string(text) + "\"");
    int step = 1;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      auto s = item.substr(slash + 1);
      auto v = value_of(s, {r.name, 1, 999, nullptr});
      if (!v || *v < 1 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return fail("step \"" + std::string(s) + "\" is not a positive number");
      if (*v > r.hi) return fail("step " + std::to_string(*v) + " is larger than the field's range " + range);
      step = *v;
      item = item.substr(0, slash);
    }
    int a = r.lo, b = r.hi;
    if (item != "*") {
      auto dash = item.find('-');
      auto first = value_of(item.substr(0, dash), r);
      if (!first) return fail("\"" + std::string(item.substr(0, dash)) + "\" is not a value");
      a = *first;
      b = step > 1 && dash == std::string_view::npos ? r.hi : a;  // `n/s`: from n to the end, every s
      if (dash != std::string_view::npos) {
        auto last = value_of(item.substr(dash + 1), r);
        if (!last) return fail("\"" + std::string(item.substr(dash + 1)) + "\" is not a value");
        b = *last;
      }
      if (a < r.lo || a > r.hi) return fail(std::to_string(a) + " is out of range " + range);
      if (b < r.lo || b > r.hi) return fail(std::to_string(b) + " is out of range " + range);
      if (a > b) return fail("range " + std::to_string(a) + "-" + std::to_string(b) + " runs backwards");
    }
    for (int v = a; v <= b; v += step) out.push_back(v);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool day_matches(const cron_spec& c, date::year_month_day ymd) {
  const unsigned d = static_cast<unsigned>(ymd.day());
  const unsigned wd = date::weekday(date::sys_days(ymd)).c_encoding();
  const bool by_day = c.day.test(d), by_weekday = c.weekday.test(wd);
  if (c.any_day && c.any_weekday) return true;
  if (c.any_day) return by_weekday;
  if (c.any_weekday) return by_day;
  return by_day || by_weekday;
}

}  // namespace

std::variant<cron_spec, cron_error> parse_cron(std::string_view expr) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && (expr[i] == ' ' || expr[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < expr.size() && expr[j] != ' ' && expr[j] != '\t') ++j;
    if (j > i) parts.push_back(expr.substr(i, j - i));
    i = j;
  }
  if (parts.size() != 5)
    return cron_error{"expression", "a cron expression has five fields (minute hour day-of-month month day-of-week), got " +
                                        std::to_string(parts.size())};
  cron_spec c;
  for (std::size_t f = 0; f < 5; ++f) {
    auto parsed = parse_field(parts[f], rules[f]);
    if (auto* e = std::get_if<cron_error>(&parsed)) return *e;
    for (int v : std::get<std::vector<int>>(parsed)) {
      switch (f) {
        case 0: c.minute.set(static_cast<std::size_t>(v)); break;
        case 1: c.hour.set(static_cast<std::size_t>(v)); break;
        case 2: c.day.set(static_cast<std::size_t>(v)); break;
        case 3: c.month.set(static_cast<std::size_t>(v)); break;
        default: c.weekday.set(static_cast<std::size_t>(v % 7)); break;
      }
    }
  }
  c.any_day = parts[2] == "*";
  c.any_weekday = parts[4] == "*";
  return c;
}

const date::time_zone* find_zone(const std::string& name) {
  try {
    return date::locate_zone(name.empty() ? "UTC" : name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::optional<std::chrono::sys_seconds> next_fire(const cron_spec& c, std::chrono::sys_seconds after, const date::time_zone* tz) {
  using namespace std::chrono;
  const auto start_local = tz->to_local(after);
  auto day = date::floor<date::days>(start_local);
  for (int n = 0; n < 366 * 5; ++n, day += date::days{1}) {
    const date::year_month_day ymd{date::sys_days(day.time_since_epoch())};
    if (!c.month.test(static_cast<unsigned>(ymd.month())) || !day_matches(c, ymd)) continue;
    std::optional<sys_seconds> best;
    for (std::size_t h = 0; h < 24; ++h) {
      if (!c.hour.test(h)) continue;
      for (std::size_t m = 0; m < 60; ++m) {
        if (!c.minute.test(m)) continue;
        const date::local_seconds local = day + hours(h) + minutes(m);
        // Unique: its offset. Skipped (clocks jumped forward): the offset before the jump puts it as far past the
        // jump as it was into the gap. Repeated (clocks went back): the earlier offset, so it fires once, first.
        const auto info = tz->get_info(local);
        const sys_seconds at = sys_seconds{local.time_since_epoch()} - info.first.offset;
        if (at > after && (!best || at < *best)) best = at;
      }
    }
    if (best) return best;
  }
  return std::nullopt;
}

}  // namespace berth::schedule
