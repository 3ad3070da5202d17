// What model calls cost, for budgets in USD. BERTH_PRICES lists USD per million tokens by model-name prefix:
// `prefix=input/output/cache_read/cache_write`, comma-separated, `*` for every other model; the longest
// matching prefix prices a call. Pure.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/usage.hpp"

namespace berth {

struct model_price {
  double input = 0, output = 0, cache_read = 0, cache_write = 0;  // USD per million tokens
};
struct price_entry {
  std::string prefix;  // "*": any model
  model_price price;
};
using price_table = std::vector<price_entry>;

// Anthropic's list prices when this was written (USD per million tokens); they change: set BERTH_PRICES.
inline constexpr std::string_view default_prices =
    "claude-opus-4-5=5/25/0.5/6.25,claude-opus-4=15/75/1.5/18.75,claude-sonnet=3/15/0.3/3.75,"
    "claude-haiku-4-5=1/5/0.1/1.25,claude-3-5-haiku=0.8/4/0.08/1,*=3/15/0.3/3.75";

// nullopt with `why` set when an entry is malformed (not prefix=a/b/c/d, a negative or absurd price,
// a prefix given twice).
std::optional<price_table> parse_prices(std::string_view spec, std::string& why);

// The cost of `u` for `model` in millionths of a USD (rounded up); 0 when no entry matches.
std::int64_t cost_micro_usd(const price_table& t, std::string_view model, const usage& u);

// Everything a budget counts as tokens: input, output, cache reads and cache writes.
std::int64_t total_tokens(const usage& u);

}  // namespace berth
