// SSE framing and Last-Event-ID: a frame is always id/event/data lines ending in a blank line, whatever the
// payload holds (no CR or LF ever escapes into a new field), and a resume id is a non-negative integer or nothing.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/http/sse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto id = berth::http::parse_last_event_id(in); id && *id < 0) std::abort();
  auto frame = berth::http::sse_frame(7, "text", in);
  if (!frame.ends_with("\n\n")) std::abort();
  std::string_view body(frame);
  body.remove_suffix(2);
  for (std::size_t pos = 0; pos < body.size();) {
    auto nl = body.find('\n', pos);
    auto line = body.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line.find('\r') != std::string_view::npos) std::abort();
    if (!(line.starts_with("id: ") || line.starts_with("event: ") || line.starts_with("data: ") || line == "data:"))
      std::abort();
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return 0;
}
