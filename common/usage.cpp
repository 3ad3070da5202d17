#include "common/usage.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace berth {
namespace {
std::int64_t field(const nlohmann::json& u, const char* k) {
  auto it = u.find(k);
  return it != u.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0 ? it->get<std::int64_t>() : 0;
}
}  // namespace

usage& usage::operator+=(const usage& o) {
  requests += o.requests;
  input_tokens += o.input_tokens;
  output_tokens += o.output_tokens;
  cache_read_input_tokens += o.cache_read_input_tokens;
  cache_creation_input_tokens += o.cache_creation_input_tokens;
  cost_micro_usd += o.cost_micro_usd;
  return *this;
}

bool usage::empty() const {
  return requests == 0 && input_tokens == 0 && output_tokens == 0 && cache_read_input_tokens == 0 &&
         cache_creation_input_tokens == 0;
}

nlohmann::json usage::to_json() const {
  return {{"requests", requests},
          {"input_tokens", input_tokens},
          {"output_tokens", output_tokens},
          {"cache_read_input_tokens", cache_read_input_tokens},
          {"cache_creation_input_tokens", cache_creation_input_tokens},
          {"cost_usd", static_cast<double>(cost_micro_usd) / 1e6}};
}

usage usage_from_json(const nlohmann::json& j) {
  usage u;
  if (!j.is_object()) return u;
  u.requests = field(j, "requests");
  u.input_tokens = field(j, "input_tokens");
  u.output_tokens = field(j, "output_tokens");
  u.cache_read_input_tokens = field(j, "cache_read_input_tokens");
  u.cache_creation_input_tokens = field(j, "cache_creation_input_tokens");
  if (auto it = j.find("cost_usd"); it != j.end() && it->is_number() && it->get<double>() >= 0)
    u.cost_micro_usd = static_cast<std::int64_t>(std::llround(it->get<double>() * 1e6));
  return u;
}

}  // namespace berth
