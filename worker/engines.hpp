// Engines a worker can run. Each returns the process exit code.
#pragma once
#include <functional>
#include <string>

#include "common/task.hpp"

namespace berth::worker {

class relay;

int run_echo(const task& t);    // each word of the message as a `text` event, options.delay_ms apart
int run_script(const task& t);  // fixed test scenarios (options.scenario), never a command from the request
// The Claude Code CLI (worker/claude_engine.cpp). `restarted_because`: a warm CLI could not serve this task
// (named in the `started` event).
int run_claude(const task& t, const std::string& restarted_because = "");
// A warm spare: starts the CLI for `prepared` (the run the spare most likely gets) with stream-json input and
// waits for the real task on stdin. When its command (flags, session, environment but the key) and what it read
// at start (the session's transcript, the instructions) still fit, the message goes to the waiting CLI;
// otherwise the CLI is replaced (`cold`, with the reason). Tells `r` the run's token. A CLI that exits before
// the task ends the worker (code 3).
int run_prepared(const task& prepared, relay* r, const std::function<int(const task&, const std::string&)>& cold);

inline constexpr std::size_t max_task_line = 2 << 20;

}  // namespace berth::worker
