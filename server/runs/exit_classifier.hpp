// How a finished worker's run is named: pure, from what berthd asked for and what Docker and the worker said.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "common/event.hpp"

namespace berth::runs {

enum class stop_request { none, cancel, run_timeout, idle_timeout, disk_limit };

struct exit_facts {
  stop_request requested = stop_request::none;
  int timeout_s = 0;            // the limit that fired, for the reason text
  std::int64_t limit_bytes = 0;  // disk_limit: the workspace limit
  int exit_code = 0;
  bool oom_killed = false;
  bool saw_result = false;
  bool result_is_error = false;
  std::string error_kind;       // from the worker's last `error` event
  std::string error_message;
};

struct outcome {
  run_end end = run_end::failed;
  std::string reason;
};

outcome classify_exit(const exit_facts& f);

}  // namespace berth::runs
