// Server-Sent Events framing. Pure. Every event: `id: <seq>`, `event: <type>`, `data: <json>` (one data line
// per line of the payload, so a multi-line payload survives), then a blank line.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/event.hpp"

namespace berth::http {

inline constexpr std::string_view sse_connected = ": connected\n\n";
inline constexpr std::string_view sse_keepalive = ": keepalive\n\n";

std::string sse_frame(std::int64_t id, std::string_view type, std::string_view data);
inline std::string sse_frame(const event& e) { return sse_frame(e.seq, e.type, e.data); }
// Last-Event-ID header or ?after=: a non-negative integer, else nullopt.
std::optional<std::int64_t> parse_last_event_id(std::string_view v);

}  // namespace berth::http
