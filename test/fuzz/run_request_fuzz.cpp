// Every JSON body the API takes: a run request either parses into bounded fields or is refused with a 4xx;
// the bounded parser never builds a tree deeper than its limit; an outbox/target JSON never throws.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/json_bounded.hpp"
#include "server/runs/run_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  berth::runs::request_limits limits{{"echo", "claude", "script"}, "echo", 1800, 600};
  try {
    auto r = berth::runs::parse_run_request(in, limits);
    if (r.user.empty() || r.user.size() > 64 || r.message.size() > berth::runs::max_message_bytes) std::abort();
    (void)r.options.dump();
  } catch (const berth::runs::request_error& e) {
    if (e.kind != berth::runs::refusal::invalid && e.kind != berth::runs::refusal::too_large) std::abort();
  }
  auto j = berth::parse_json(in);
  if (!j.is_discarded()) (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
