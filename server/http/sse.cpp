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
  for (;;) {
    auto nl = data.find('\n');
    auto part = data.substr(0, nl);
    if (!part.empty() && part.back() == '\r') part.remove_suffix(1);
    out += "data: ";
    out += part;
    out += '\n';
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
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
