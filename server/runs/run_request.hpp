// A request to start a run, validated. Pure: JSON text in, a run_request or a request_error out. Limits are
// named here; the HTTP layer caps the body at max_body_bytes before it gets this far.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::runs {

inline constexpr std::size_t max_body_bytes = 1 << 20;       // whole request body
inline constexpr std::size_t max_message_bytes = 256 * 1024;  // the task text
inline constexpr int max_delay_ms = 5000;                     // echo engine's options.delay_ms
inline constexpr int max_burst_count = 2000000;               // script engine's options.count
inline constexpr std::size_t max_callback_url_bytes = 2048;

// A client mistake, mapped to HTTP 400 (or the status given) with a machine-readable code.
struct request_error : std::runtime_error {
  int status;
  std::string code;
  request_error(int s, std::string c, const std::string& msg) : std::runtime_error(msg), status(s), code(std::move(c)) {}
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
};

struct request_limits {
  std::vector<std::string> engines;
  std::string default_engine;
  int max_timeout_s = 1800;
  int max_idle_timeout_s = 600;
};

run_request parse_run_request(std::string_view body, const request_limits& limits);

bool valid_user(std::string_view u);     // [A-Za-z0-9_.-]{1,64}
bool valid_session(std::string_view s);  // [A-Za-z0-9_.:-]{1,128}

}  // namespace berth::runs
