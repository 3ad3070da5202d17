#include "common/prices.hpp"

#include <cmath>
#include <cstdlib>

#include "common/strings.hpp"

namespace berth {
namespace {
constexpr double max_price = 100000;  // USD per million tokens: anything above is a typo

std::optional<double> number(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::string t(s);
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(v) || v < 0 || v > max_price) return std::nullopt;
  return v;
}
}  // namespace

std::optional<price_table> parse_prices(std::string_view spec, std::string& why) {
  price_table t;
  for (const auto& entry : split_list(spec)) {
    auto eq = entry.find('=');
    const std::string prefix(eq == std::string::npos ? std::string_view() : trim(std::string_view(entry).substr(0, eq)));
    std::vector<std::string_view> parts;
    if (eq != std::string::npos)
      for (std::string_view rest = std::string_view(entry).substr(eq + 1);;) {
        auto slash = rest.find('/');
        parts.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
      }
    std::optional<double> v[4];
    bool ok = !prefix.empty() && parts.size() == 4;
    for (std::size_t i = 0; ok && i < 4; ++i) ok = (v[i] = number(trim(parts[i]))).has_value();
    if (!ok) {
      why = "\"" + entry + "\" is not model-prefix=input/output/cache_read/cache_write (USD per million tokens)";
      return std::nullopt;
    }
    for (const auto& e : t)
      if (e.prefix == prefix) {
        why = "the prefix \"" + prefix + "\" is priced twice";
        return std::nullopt;
      }
    t.push_back({prefix, {*v[0], *v[1], *v[2], *v[3]}});
  }
  return t;
}

std::int64_t cost_micro_usd(const price_table& t, std::string_view model, const usage& u) {
  const price_entry* best = nullptr;
  for (const auto& e : t) {
    if (e.prefix == "*") {
      if (!best) best = &e;
    } else if (model.starts_with(e.prefix) && (!best || best->prefix == "*" || e.prefix.size() > best->prefix.size())) {
      best = &e;
    }
  }
  if (!best) return 0;
  const auto& p = best->price;
  // USD per million tokens × tokens = millionths of a USD.
  const double micro = p.input * static_cast<double>(u.input_tokens) + p.output * static_cast<double>(u.output_tokens) +
                       p.cache_read * static_cast<double>(u.cache_read_input_tokens) +
                       p.cache_write * static_cast<double>(u.cache_creation_input_tokens);
  return static_cast<std::int64_t>(std::ceil(micro - 1e-9));
}

std::int64_t total_tokens(const usage& u) {
  return u.input_tokens + u.output_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
}

}  // namespace berth
