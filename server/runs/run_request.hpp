// A request to start a run, validated. Pure: JSON text in, a run_request or a request_error out. Limits are
// named here; the HTTP layer caps the body at max_body_bytes before it gets this far.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::runs {

inline constexpr std::size_t max_body_bytes = 1 << 20;       // whole request body
inline constexpr std::size_t max_message_bytes = 256 * 1024;  // the task text
inline constexpr int max_delay_ms = 5000;                     // echo engine's options.delay_ms
inline constexpr int max_burst_count = 2000000;               // script engine's options.count
inline constexpr std::size_t max_callback_url_bytes = 2048;
inline constexpr double max_run_budget_usd = 1000;            // options.max_budget_usd (the CLI's own stop)

// Why the runs layer refuses a request. It knows no HTTP: the HTTP layer (routes.cpp, http_status_of) is
// the one place these become statuses.
enum class refusal {
  invalid,      // the request itself is wrong (400)
  too_large,    // a size limit (413)
  busy,         // full queue: try again later (429 + Retry-After)
  over_budget,  // the user's daily budget is spent: not before it resets (429 + Retry-After + resets_at)
  unavailable,  // berthd cannot take it now: shutting down, no engine, no credentials (503)
};

// A refused request, with a machine-readable code and a message for the caller.
struct request_error : std::runtime_error {
  refusal kind;
  std::string code;
  request_error(refusal k, std::string c, const std::string& msg) : std::runtime_error(msg), kind(k), code(std::move(c)) {}
  std::int64_t resets_at_ms = 0;  // over_budget: when the budget resets
};

struct run_request {
  std::string user;
  std::string message;
  std::string engine;
  std::string session;
  std::string model;
  nlohmann::json options = nlohmann::json::object();
  int timeout_s = 0;       // 0: the configured maximum
  int idle_timeout_s = 0;  // 0: the configured maximum
  std::string callback_url;
  // Where the result goes when the run ends (stored with the run, delivered by the outbox).
  struct reply_route {
    std::string kind;    // slack | telegram | callback
    std::string target;  // JSON
  };
  std::vector<reply_route> replies;
  // Set by berthd itself, never from a request body: what started the run (schedule:<id>, heartbeat:<user>,
  // github:<delivery>) and, for a schedule, the firing time it stands for (ms since epoch).
  std::string trigger;
  std::optional<std::int64_t> scheduled_for;
};

struct request_limits {
  std::vector<std::string> engines;
  std::string default_engine;
  int max_timeout_s = 1800;
  int max_idle_timeout_s = 600;
};

run_request parse_run_request(std::string_view body, const request_limits& limits);

bool valid_user(std::string_view u);     // [A-Za-z0-9_.-]{1,64}
bool valid_session(std::string_view s);  // [A-Za-z0-9_.:/#-]{1,128}

}  // namespace berth::runs
