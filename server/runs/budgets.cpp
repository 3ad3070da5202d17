#include "server/runs/budgets.hpp"

#include <cmath>
#include <cstdio>

#include "common/strings.hpp"

namespace berth::runs {
namespace {
constexpr std::int64_t day_ms = 86'400'000;

std::string usd(std::int64_t micros) {
  char b[48];
  std::snprintf(b, sizeof b, "%.6g", static_cast<double>(micros) / 1e6);
  return b;
}
}  // namespace

std::optional<budget> parse_budget(const nlohmann::json& body, std::string& why) {
  if (!body.is_object()) {
    why = "the body must be a JSON object {\"tokens_per_day\": N, \"usd_per_day\": X}";
    return std::nullopt;
  }
  budget b;
  for (const auto& [k, v] : body.items()) {
    if (v.is_null()) continue;  // no limit of that kind
    if (k == "tokens_per_day") {
      if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 || v.get<std::int64_t>() > max_tokens_per_day) {
        why = "tokens_per_day must be a whole number from 1 to " + std::to_string(max_tokens_per_day);
        return std::nullopt;
      }
      b.tokens_per_day = v.get<std::int64_t>();
    } else if (k == "usd_per_day") {
      if (!v.is_number() || !(v.get<double>() > 0) || v.get<double>() > max_usd_per_day) {
        why = "usd_per_day must be a number above 0 and at most " + usd(static_cast<std::int64_t>(max_usd_per_day * 1e6));
        return std::nullopt;
      }
      b.usd_micros_per_day = static_cast<std::int64_t>(std::llround(v.get<double>() * 1e6));
    } else {
      why = "unknown field \"" + k + "\" (a budget has tokens_per_day and usd_per_day)";
      return std::nullopt;
    }
  }
  if (!b.tokens_per_day && !b.usd_micros_per_day) {
    why = "a budget needs tokens_per_day or usd_per_day (DELETE removes it)";
    return std::nullopt;
  }
  return b;
}

nlohmann::json budget_json(const budget& b) {
  return {{"tokens_per_day", b.tokens_per_day ? nlohmann::json(*b.tokens_per_day) : nlohmann::json(nullptr)},
          {"usd_per_day", b.usd_micros_per_day ? nlohmann::json(static_cast<double>(*b.usd_micros_per_day) / 1e6) : nlohmann::json(nullptr)}};
}

nlohmann::json spend_json(const spend& s) {
  return {{"tokens", s.tokens}, {"usd", static_cast<double>(s.cost_micros) / 1e6}};
}

std::string budget_breach(const budget& b, const spend& s) {
  if (b.tokens_per_day && s.tokens >= *b.tokens_per_day)
    return "tokens_per_day " + std::to_string(*b.tokens_per_day) + " reached (" + std::to_string(s.tokens) + " used today)";
  if (b.usd_micros_per_day && s.cost_micros >= *b.usd_micros_per_day)
    return "usd_per_day " + usd(*b.usd_micros_per_day) + " reached (" + usd(s.cost_micros) + " spent today)";
  return {};
}

std::string utc_day(std::int64_t ms) { return format_time_ms(ms).substr(0, 10); }

std::int64_t next_utc_midnight_ms(std::int64_t ms) {
  return (ms >= 0 ? ms / day_ms : (ms - day_ms + 1) / day_ms) * day_ms + day_ms;
}

}  // namespace berth::runs
