// The CLI's stream-json translated into worker events, line by line: every event it produces passes the
// worker-protocol check berthd applies, and nothing throws.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/event.hpp"
#include "worker/stream_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  berth::worker::stream_translator t(256);
  while (!in.empty()) {
    auto nl = in.find('\n');
    auto out = t.feed(in.substr(0, nl));
    for (const auto& e : out.events)
      if (!berth::check_worker_event(e).empty()) std::abort();
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  return 0;
}
