// Fixed scenarios for exercising berthd's limits against a real container. The request only picks one by
// name; nothing from the request is ever executed.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "worker/emit.hpp"
#include "worker/engines.hpp"

namespace berth::worker {
namespace {

int fail() {
  emit({{"type", "text"}, {"text", "about to fail"}});
  emit_error("engine", "scripted failure");
  return 3;
}

int silent() {
  std::this_thread::sleep_for(std::chrono::hours(1));
  return 0;
}

int oom() {
  std::vector<char*> blocks;
  for (;;) {
    char* p = static_cast<char*>(std::malloc(16 << 20));
    if (!p) break;
    std::memset(p, 1, 16 << 20);  // touch every page so the memory is really used
    blocks.push_back(p);
  }
  emit_error("engine", "allocation failed before the OOM killer came");
  return 4;
}

int forkbomb() {
  std::vector<pid_t> children;
  for (int i = 0; i < 100000; ++i) {
    pid_t p = ::fork();
    if (p < 0) break;
    if (p == 0) {
      ::pause();
      ::_exit(0);
    }
    children.push_back(p);
  }
  for (pid_t p : children) ::kill(p, SIGKILL);
  for (pid_t p : children) ::waitpid(p, nullptr, 0);
  emit({{"type", "result"}, {"text", "fork failed after " + std::to_string(children.size()) + " children"},
        {"turns", 1}, {"is_error", false}, {"forked", children.size()}});
  return 0;
}

int flood(std::int64_t bytes) {
  std::string chunk(1023, 'x');
  chunk += '\n';
  std::string block;
  for (int i = 0; i < 64; ++i) block += chunk;
  for (std::int64_t n = 0; n < bytes; n += static_cast<std::int64_t>(block.size())) {
    if (::write(1, block.data(), block.size()) < 0) break;
  }
  emit({{"type", "result"}, {"text", "flooded"}, {"turns", 1}, {"is_error", false}});
  return 0;
}

// `count` text events as fast as the pipe takes them: the ingest benchmark.
int burst(long count) {
  emit({{"type", "started"}, {"engine", "script"}});
  std::string block;
  for (long i = 1; i <= count; ++i) {
    block += "{\"type\":\"text\",\"text\":\"e" + std::to_string(i) + " \"}\n";
    if (block.size() > 60000 || i == count) {
      if (::write(1, block.data(), block.size()) < 0) return 1;
      block.clear();
    }
  }
  emit({{"type", "result"}, {"text", "burst of " + std::to_string(count)}, {"turns", 1}, {"is_error", false}});
  return 0;
}

// `count` text events a quarter of a second apart: a run that is visibly in progress for a while.
int ticks(long count) {
  emit({{"type", "started"}, {"engine", "script"}});
  for (long i = 1; i <= count; ++i) {
    emit({{"type", "text"}, {"text", "tick " + std::to_string(i) + " "}});
    if (i < count) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  emit({{"type", "result"}, {"text", "ticked " + std::to_string(count)}, {"turns", 1}, {"is_error", false}});
  return 0;
}

// What an agent's turn looks like: prose, a tool call and its result, a diagnostic, more prose.
int tools() {
  emit({{"type", "started"}, {"engine", "script"}});
  emit({{"type", "text"}, {"text", "Let me look at the files."}});
  emit({{"type", "tool_use"}, {"id", "tool-1"}, {"name", "Bash"}, {"input", {{"command", "ls /workspace"}}}});
  emit({{"type", "tool_result"}, {"id", "tool-1"}, {"output", "notes.md\nplan.txt"}, {"is_error", false}});
  diag("a diagnostic line on stderr");
  emit({{"type", "text"}, {"text", "There are two files."}});
  emit({{"type", "result"}, {"text", "There are two files."}, {"turns", 2}, {"is_error", false}});
  return 0;
}

int garbage() {
  emit({{"type", "started"}, {"engine", "script"}});
  ::write(1, "this is not json\n", 17);
  ::write(1, "{\"type\": \"mystery\"}\n", 20);
  diag("a diagnostic line on stderr");
  emit({{"type", "text"}, {"text", "still fine"}});
  ::write(1, "unterminated tail", 17);
  return 0;
}

// The message written to stdout as it is, then a result: lets tests put any bytes on the worker protocol, as a
// hostile agent can (it may write to /proc/1/fd/1).
int raw(const task& t) {
  std::string line = t.message + "\n";
  if (::write(1, line.data(), line.size()) < 0) return 1;
  emit({{"type", "result"}, {"text", "wrote the raw line"}, {"turns", 1}, {"is_error", false}});
  return 0;
}

// Writes `count` MiB into the workspace, then waits: what an agent filling the host's disk looks like.
int fill(long mib) {
  emit({{"type", "started"}, {"engine", "script"}});
  int fd = ::open("/workspace/fill.bin", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    emit_error("engine", "cannot write /workspace/fill.bin");
    return 1;
  }
  std::string mb(1 << 20, 'f');
  for (long i = 0; i < mib; ++i)
    if (::write(fd, mb.data(), mb.size()) < 0) break;
  ::close(fd);
  emit({{"type", "text"}, {"text", "wrote " + std::to_string(mib) + " MiB"}});
  std::this_thread::sleep_for(std::chrono::hours(1));
  return 0;
}

}  // namespace

int run_script(const task& t) {
  std::string s = t.options.value("scenario", "");
  if (s == "fail") return fail();
  if (s == "silent") return silent();
  if (s == "oom") return oom();
  if (s == "forkbomb") return forkbomb();
  if (s == "flood") return flood(std::int64_t{100} << 20);
  if (s == "garbage") return garbage();
  if (s == "tools") return tools();
  if (s == "raw") return raw(t);
  if (s == "fill") return fill(t.options.value("count", 64L));
  if (s == "burst") return burst(t.options.value("count", 1000L));
  if (s == "ticks") return ticks(t.options.value("count", 20L));
  emit_error("input", "unknown scenario \"" + s + "\"");
  return 2;
}

}  // namespace berth::worker
