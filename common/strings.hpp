// Small pure helpers: time formatting, list and size parsing. No I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth {

std::int64_t now_ms();
// RFC 3339 UTC with milliseconds, e.g. 2026-11-25T02:57:19.634Z.
std::string format_time_ms(std::int64_t ms);
// Unix milliseconds, or RFC 3339 UTC ("2026-11-25T02:57:19.634Z", seconds and fraction optional, "Z" or
// nothing) → ms since epoch. nullopt when malformed.
std::optional<std::int64_t> parse_time_ms(std::string_view s);
std::string_view trim(std::string_view s);
// Splits on commas, trims, drops empty items.
std::vector<std::string> split_list(std::string_view s);
// "512m", "1g", "1048576", "64k" → bytes. nullopt when malformed or overflowing.
std::optional<std::int64_t> parse_bytes(std::string_view s);
std::optional<std::int64_t> parse_int(std::string_view s);
// scheme://user:password@host/… → scheme://user:***@host/… (for logs); other text unchanged.
std::string redact_url_password(const std::string& url);
std::optional<double> parse_double(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
std::string ascii_lower(std::string_view s);
// Lower-case hex of `bytes`, two digits per byte.
std::string to_hex(std::string_view bytes);
// Constant-time equality; a secret shorter or longer than `presented` never matches.
bool same_secret(std::string_view secret, std::string_view presented);

}  // namespace berth
