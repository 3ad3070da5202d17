// Engines a worker can run. Each returns the process exit code.
#pragma once
#include "common/task.hpp"

namespace berth::worker {

int run_echo(const task& t);    // each word of the message as a `text` event, options.delay_ms apart
int run_script(const task& t);  // fixed test scenarios (options.scenario), never a command from the request
int run_claude(const task& t);  // the Claude Code CLI (worker/claude_engine.cpp)

}  // namespace berth::worker
