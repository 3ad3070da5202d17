// Operator log: one line per record on stderr, as text or JSON (BERTH_LOG_FORMAT), filtered by level
// (BERTH_LOG_LEVEL). Records about a run carry its id as a field. Secrets are never passed in here.
#pragma once
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace berth::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };
enum class format { text, json };

using field = std::pair<std::string_view, std::string>;
using fields = std::initializer_list<field>;

void configure(level min_level, format fmt);
bool parse_level(std::string_view s, level& out);
bool parse_format(std::string_view s, format& out);
bool enabled(level l);
void write(level l, std::string_view msg, fields f = {});

inline void debug(std::string_view m, fields f = {}) { if (enabled(level::debug)) write(level::debug, m, f); }
inline void info(std::string_view m, fields f = {}) { write(level::info, m, f); }
inline void warn(std::string_view m, fields f = {}) { write(level::warn, m, f); }
inline void error(std::string_view m, fields f = {}) { write(level::error, m, f); }

}  // namespace berth::log
