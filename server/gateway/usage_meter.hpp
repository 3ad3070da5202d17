// berthd's own count of what a run spent: read from every model answer passing through the gateway (the
// streaming message_start / message_delta events, or a JSON body's `usage`). The agent cannot forge it.
// Pure and incremental: fed the body as it streams, it reports what each piece newly added, priced at
// `prices` for the model the answer names.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "common/prices.hpp"
#include "common/usage.hpp"

namespace berth::gateway {

using berth::usage;

class usage_meter {
 public:
  explicit usage_meter(bool event_stream, const price_table* prices = nullptr) : sse_(event_stream), prices_(prices) {}
  // Body bytes as they pass; returns the tokens reported since the previous call.
  usage feed(std::string_view bytes);
  // At the end of the body (a JSON answer is read whole here).
  usage finish();

 private:
  void line(std::string_view l);
  void take(const nlohmann::json& u);
  usage delta();
  bool sse_;
  const price_table* prices_;
  std::string model_;      // from message_start (or the JSON answer)
  bool skipping_ = false;  // inside an over-long line: its rest is dropped
  std::string buf_;
  usage seen_;      // this answer's counts so far (the API's counts are cumulative per message)
  usage reported_;  // what feed/finish already returned
};

}  // namespace berth::gateway
