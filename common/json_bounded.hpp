// JSON from bytes berth does not control (worker lines, request bodies, chat hooks, stored events), parsed
// with a nesting bound. nlohmann-json parses iteratively but copies, compares and dumps recursively: one
// line of 100,000 nested brackets would overflow the stack later, far from the parse. Anything nested deeper
// than the bound is refused before a tree is built. Pure; never throws.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace berth {

// Deeper than any protocol berth speaks (the worker protocol, Slack, Telegram, GitHub, Docker use < 20).
inline constexpr int max_json_depth = 64;

// True when `text` opens more than `max_depth` arrays/objects inside one another (brackets inside strings
// do not count). Malformed text is left to the parser.
bool json_too_deep(std::string_view text, int max_depth = max_json_depth);

// json::parse(text) without exceptions: a discarded value when malformed or nested deeper than max_depth.
nlohmann::json parse_json(std::string_view text, int max_depth = max_json_depth);

// Type-checked field reads for JSON someone else wrote. nlohmann's j.value(key, fallback) throws when the key is
// there with another type (`"action": {}`); these give the fallback instead. `j` need not be an object.
std::string string_at(const nlohmann::json& j, const char* key, std::string fallback = {});
std::int64_t integer_at(const nlohmann::json& j, const char* key, std::int64_t fallback = 0);  // within ±2^63
bool bool_at(const nlohmann::json& j, const char* key, bool fallback = false);

}  // namespace berth
