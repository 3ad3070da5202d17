#include "common/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "common/strings.hpp"

namespace berth::log {
namespace {
std::atomic<int> g_level{static_cast<int>(level::info)};
std::atomic<format> g_format{format::text};
std::mutex g_mutex;

constexpr std::string_view level_name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

// Text values with spaces or quotes are quoted so a line stays machine-splittable.
std::string text_value(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\n\t") == std::string::npos) return v;
  return nlohmann::json(v).dump();
}
}  // namespace

void configure(level min_level, format fmt) {
  g_level = static_cast<int>(min_level);
  g_format = fmt;
}

bool parse_level(std::string_view s, level& out) {
  for (level l : {level::debug, level::info, level::warn, level::error})
    if (s == level_name(l)) { out = l; return true; }
  return false;
}

bool parse_format(std::string_view s, format& out) {
  if (s == "text") { out = format::text; return true; }
  if (s == "json") { out = format::json; return true; }
  return false;
}

bool enabled(level l) { return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

void write(level l, std::string_view msg, fields f) {
  if (!enabled(l)) return;
  std::string line;
  const std::string ts = format_time_ms(now_ms());
  if (g_format == format::json) {
    nlohmann::json j;
    j["ts"] = ts;
    j["level"] = level_name(l);
    j["msg"] = msg;
    for (const auto& [k, v] : f) j[std::string(k)] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = ts + " " + std::string(level_name(l)) + " " + std::string(msg);
    for (const auto& [k, v] : f) line += " " + std::string(k) + "=" + text_value(v);
  }
  line += '\n';
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace berth::log
