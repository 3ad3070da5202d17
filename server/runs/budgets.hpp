// Per-user daily budgets (`{"tokens_per_day": N, "usd_per_day": X}`, either may be absent) and the rule that
// says a user is over one. Days are UTC days; a budget resets at UTC midnight. Pure.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace berth::runs {

inline constexpr std::int64_t max_tokens_per_day = 1'000'000'000'000;
inline constexpr double max_usd_per_day = 1'000'000;

struct budget {
  std::optional<std::int64_t> tokens_per_day;
  std::optional<std::int64_t> usd_micros_per_day;
};

struct spend {
  std::int64_t tokens = 0;
  std::int64_t cost_micros = 0;  // millionths of a USD
};

struct over_budget {
  std::string reason;          // "user alice is over budget: tokens_per_day 1000 reached (1234 used today)"
  std::int64_t resets_at_ms;   // the next UTC midnight
};

// The API's body → a budget, or nullopt with `why` (unknown field, not a positive number, over the limits).
std::optional<budget> parse_budget(const nlohmann::json& body, std::string& why);
nlohmann::json budget_json(const budget& b);
nlohmann::json spend_json(const spend& s);

// Why `s` is over `b` ("tokens_per_day 1000 reached (1234 used today)"), or empty.
std::string budget_breach(const budget& b, const spend& s);

std::string utc_day(std::int64_t ms);                   // "2026-12-04"
std::int64_t next_utc_midnight_ms(std::int64_t ms);     // when the day of `ms` ends

}  // namespace berth::runs
