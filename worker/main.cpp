// berth-worker: runs inside each fresh container. Reads its task as one JSON line on stdin (never argv) —
// or, where the engine gives a container no stdin (Swarm services, Kubernetes Jobs), from the file
// BERTH_TASK_FILE names (a secret mounted read-only) — runs the engine it names, and reports as
// worker-protocol JSON lines on stdout; stderr is diagnostics.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "common/task.hpp"
#include "worker/emit.hpp"
#include "worker/engines.hpp"
#include "worker/mcp_echo.hpp"
#include "worker/relay.hpp"

namespace {

// Reads up to the first newline (or EOF). Blocks until berthd hands the task over. One byte at a time on
// stdin: what follows the line (a warm spare's real task) is not ours to consume.
bool read_task_line(int fd, std::string& out) {
  char c;
  while (out.size() < berth::worker::max_task_line) {
    ssize_t n = ::read(fd, &c, 1);
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
  if (const char* file = std::getenv("BERTH_TASK_FILE"); file && *file) {
    int fd = ::open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      worker::emit_error("input", std::string("cannot open the task file ") + file + ": " + std::strerror(errno));
      return 2;
    }
    bool ok = read_task_line(fd, line);
    ::close(fd);
    if (!ok) {
      worker::emit_error("input", std::string("no task in ") + file + " (or larger than 2 MiB)");
      return 2;
    }
  } else if (!read_task_line(0, line)) {
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
