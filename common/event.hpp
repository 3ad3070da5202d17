// The event model shared by berthd and berth-worker. A worker writes one JSON object per line on stdout
// (types started/text/tool_use/tool_result/result/error); berthd adds status/log/done. Every stored event
// has a per-run sequence number (1, 2, 3, … no gaps) and a one-line JSON `data` that names its run.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace berth {

struct event {
  std::string run;
  std::int64_t seq = 0;
  std::string type;
  std::string data;  // one-line JSON object including "run"
  std::int64_t ts_ms = 0;
};

// Empty when `j` is a well-formed worker protocol event, else what is wrong with it.
std::string check_worker_event(const nlohmann::json& j);

// `fields` without "type", plus "run", dumped on one line (invalid UTF-8 replaced, never thrown).
std::string event_data(std::string_view run, const nlohmann::json& fields);

// Run statuses: the active ones a run passes through, then exactly one terminal one. Nothing else is valid.
inline constexpr std::array<std::string_view, 3> active_statuses = {"queued", "starting", "running"};
inline constexpr std::array<std::string_view, 6> terminal_statuses = {"succeeded", "failed", "timed_out",
                                                                      "cancelled", "oom", "lost"};
bool is_terminal_status(std::string_view s);
bool is_valid_status(std::string_view s);

// How a run ended, as code sees it; the store, the API and events carry its name (`terminal_statuses`).
enum class run_end { succeeded, failed, timed_out, cancelled, oom, lost };
constexpr std::string_view name_of(run_end e) { return terminal_statuses[static_cast<std::size_t>(e)]; }

}  // namespace berth
