// What a run spent at the model API, as berthd's gateway metered it (never as the agent reports it).
#pragma once
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

namespace berth {

struct usage {
  std::int64_t requests = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cache_read_input_tokens = 0;
  std::int64_t cache_creation_input_tokens = 0;
  std::int64_t cost_micro_usd = 0;  // at BERTH_PRICES (common/prices.hpp), millionths of a USD
  usage& operator+=(const usage& o);
  bool empty() const;
  nlohmann::json to_json() const;
};
usage usage_from_json(const nlohmann::json& j);  // the shape to_json writes; missing fields are 0

}  // namespace berth
