// berth-worker: runs inside each fresh container. Reads its task as one JSON line on stdin (never argv),
// runs the engine it names, and reports as worker-protocol JSON lines on stdout; stderr is diagnostics.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "common/task.hpp"
#include "worker/emit.hpp"
#include "worker/engines.hpp"
#include "worker/mcp_echo.hpp"
#include "worker/relay.hpp"

namespace {

// Reads up to the first newline (or EOF). Blocks until berthd hands the task over.
bool read_task_line(std::string& out) {
  char c;
  while (out.size() < berth::worker::max_task_line) {
    ssize_t n = ::read(0, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return !out.empty();
    if (c == '\n') return true;
    out += c;
  }
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace berth;
  if (argc > 1 && std::string(argv[1]) == "--version") {
    std::puts("berth-worker " BERTH_VERSION);
    return 0;
  }
  if (argc > 1 && std::string(argv[1]) == "mcp-echo") return worker::run_mcp_echo(std::cin, std::cout);
  std::string line;
  if (!read_task_line(line)) {
    worker::emit_error("input", "no task on stdin (or larger than 2 MiB)");
    return 2;
  }
  task t;
  try {
    t = parse_task(line);
  } catch (const std::exception& e) {
    worker::emit_error("input", e.what());
    return 2;
  }
  std::optional<worker::relay> relay;
  if (t.relay.port > 0) {
    try {
      relay.emplace(t.relay, t.prepare);
    } catch (const std::exception& e) {
      worker::emit_error("engine", e.what());
      return 1;
    }
  }
  auto run = [](const task& real, const std::string& restarted_because) {
    if (real.engine == "echo") return worker::run_echo(real);
    if (real.engine == "script") return worker::run_script(real);
    if (real.engine == "claude") return worker::run_claude(real, restarted_because);
    worker::emit_error("input", "this worker has no engine \"" + real.engine + "\"");
    return 2;
  };
  if (t.prepare) {  // a warm spare: the engine starts now, the task comes on the next line
    if (t.engine != "claude" || !relay) {
      worker::emit_error("input", "only the claude engine with a relay can be prepared");
      return 2;
    }
    return worker::run_prepared(t, &*relay, run);
  }
  return run(t, "");
}
