#include "server/http/sse.hpp"

#include "common/strings.hpp"

namespace berth::http {

std::string sse_frame(std::int64_t id, std::string_view type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + type.size() + 40);
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  out += type;
  out += '\n';
  // A line ends at CRLF, LF or a lone CR (as EventSource reads it): every one of them starts a new `data:`
  // line, so no payload can smuggle in a field of its own (found by fuzz_sse: "a\revent: done").
  for (;;) {
    auto end = data.find_first_of("\r\n");
    out += "data: ";
    out += data.substr(0, end);
    out += '\n';
    if (end == std::string_view::npos) break;
    bool crlf = data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n';
    data.remove_prefix(end + (crlf ? 2 : 1));
  }
  out += '\n';
  return out;
}

std::optional<std::int64_t> parse_last_event_id(std::string_view v) {
  auto n = parse_int(v);
  if (!n || *n < 0) return std::nullopt;
  return n;
}

}  // namespace berth::http
