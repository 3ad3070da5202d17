// Engine `claude`: runs the Claude Code CLI as a child process in its own process group, hands it the message
// on stdin, and translates its stream-json stdout line by line into worker events the moment each line
// arrives. An auth failure kills the CLI at once instead of letting it retry for minutes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "worker/claude_command.hpp"
#include "worker/emit.hpp"
#include "worker/engines.hpp"
#include "worker/relay.hpp"
#include "worker/stream_json.hpp"

extern char** environ;

namespace berth::worker {
namespace {
namespace fs = std::filesystem;

constexpr std::size_t max_stdout_line = 8 << 20;  // an assistant line carries whole tool inputs (a written file)
constexpr std::size_t max_stderr_line = 4096;

std::atomic<pid_t> child_group{0};

// docker stop sends SIGTERM to the worker (through tini); pass it on so the CLI and its tools stop too.
void forward_signal(int sig) {
  pid_t g = child_group.load();
  if (g > 0) ::kill(-g, sig);
}

// /workspace/CLAUDE.md is a link to the read-only instructions file, so the agent reads the user's
// instructions and cannot change them. A file the agent wrote there earlier is kept under .berth/.
void link_instructions(const claude_paths& p) {
  std::error_code ec;
  const fs::path link = fs::path(p.workspace) / "CLAUDE.md";
  const bool have = fs::exists(p.instructions, ec);
  const auto st = fs::symlink_status(link, ec);
  if (fs::is_symlink(st)) {
    if (have && fs::read_symlink(link, ec) == fs::path(p.instructions)) return;
    fs::remove(link, ec);
  } else if (fs::exists(st) && have) {
    fs::create_directories(p.config_dir, ec);
    fs::rename(link, fs::path(p.config_dir).parent_path() / "CLAUDE.md.previous", ec);
    if (ec) diag("could not move the workspace's own CLAUDE.md aside: " + ec.message());
  }
  if (!have) return;
  fs::create_symlink(p.instructions, link, ec);
  if (ec) diag("could not link the user's instructions as CLAUDE.md: " + ec.message());
}

// The CLI finds user-level skills and agents in its config dir (kept in the workspace volume). Each run's
// come from berthd's read-only set volume: <config>/skills and <config>/agents are links to it, or absent
// when the run has none. What the agent may have made there itself is moved aside, never deleted.
void link_set(const claude_paths& p) {
  std::error_code ec;
  fs::create_directories(p.config_dir, ec);
  for (const char* kind : {"skills", "agents"}) {
    const fs::path link = fs::path(p.config_dir) / kind, target = fs::path(p.set) / kind;
    const bool have = fs::is_directory(target, ec);
    const auto st = fs::symlink_status(link, ec);
    if (fs::is_symlink(st)) {
      if (have && fs::read_symlink(link, ec) == target) continue;
      fs::remove(link, ec);
    } else if (fs::exists(st)) {
      fs::rename(link, fs::path(p.config_dir) / (std::string(kind) + ".previous"), ec);
      if (ec) diag(std::string("could not move the workspace's own ") + kind + " aside: " + ec.message());
    }
    if (!have) continue;
    fs::create_symlink(target, link, ec);
    if (ec) diag(std::string("could not link the run's ") + kind + ": " + ec.message());
  }
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Splits a byte stream into lines; a line longer than `max` is dropped whole (with a note) and its
// remainder skipped up to the next newline, so memory stays bounded.
class line_reader {
 public:
  explicit line_reader(std::size_t limit) : max(limit) {}

  template <class F>
  void feed(const char* data, std::size_t n, F&& on_line) {
    for (std::size_t i = 0; i < n; ++i) {
      if (data[i] == '\n') {
        if (!skipping) on_line(buf);
        buf.clear();
        skipping = false;
      } else if (!skipping) {
        buf += data[i];
        if (buf.size() > max) {
          diag("claude printed a line longer than " + std::to_string(max) + " bytes; it was dropped");
          buf.clear();
          skipping = true;
        }
      }
    }
  }
  template <class F>
  void finish(F&& on_line) {
    if (!buf.empty() && !skipping) on_line(buf);
    buf.clear();
  }

 private:
  std::size_t max;
  std::string buf;
  bool skipping = false;
};

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}
}  // namespace

namespace {
// The CLI as a child in its own process group, with pipes for its stdin, stdout and stderr.
struct cli_process {
  pid_t pid = -1;
  int in_fd = -1, out_fd = -1, err_fd = -1;
};

claude_paths paths_for_this_worker() {
  claude_paths paths;
  // Overrides for the worker's own tests (test/unit/worker_process_test.cpp), outside a container.
  if (const char* b = std::getenv("BERTH_CLAUDE_BIN"); b && *b) paths.binary = b;
  if (const char* w = std::getenv("BERTH_WORKSPACE"); w && *w) {
    paths.workspace = w;
    paths.config_dir = paths.workspace + "/.berth/claude";
    paths.instructions = paths.workspace + "/.no-instructions";
    paths.set = paths.workspace + "/.no-set";
  }
  return paths;
}

// Links instructions and the set, and builds the command for `t`.
claude_command prepare_command(const task& t, claude_paths& paths, bool stream_input) {
  link_instructions(paths);
  link_set(paths);
  std::error_code ec;
  paths.mcp = fs::exists(paths.set + "/mcp.json", ec);
  fs::create_directories(paths.config_dir, ec);
  const bool resume = !t.session_id.empty() && fs::exists(session_transcript(paths, t.session_id), ec);
  std::vector<std::string> inherited;
  for (char** e = environ; *e; ++e) inherited.emplace_back(*e);
  return build_claude_command(t, paths, resume, inherited, stream_input);
}

std::optional<cli_process> spawn_cli(claude_command& cmd, const claude_paths& paths) {
  auto argv = c_strings(cmd.argv);
  auto envp = c_strings(cmd.env);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) {
    emit_error("engine", std::string("pipe: ") + std::strerror(errno));
    return std::nullopt;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    emit_error("engine", std::string("fork: ") + std::strerror(errno));
    return std::nullopt;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (::chdir(paths.workspace.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    const char msg[] = "berth-worker: cannot execute the claude CLI\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  child_group = pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  return cli_process{pid, in[1], out[0], err[0]};
}

void kill_cli(cli_process& c) {
  ::kill(-c.pid, SIGKILL);
  for (int* fd : {&c.in_fd, &c.out_fd, &c.err_fd})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  child_group = 0;
}

// Hands the CLI `input` on stdin (then closes it) and translates its output until it ends. `early_out` /
// `early_err`: bytes it printed before (a warm CLI waiting for its message). Returns the worker's exit code.
int pump_cli(cli_process c, std::string input, const std::string& early_out = {}, const std::string& early_err = {}) {
  stream_translator tr;
  std::string_view pending = input;
  std::string last_stderr;
  bool stopped = false;
  const pid_t pid = c.pid;
  int in_fd = c.in_fd, out_fd = c.out_fd, err_fd = c.err_fd;
  if (pending.empty()) ::close(std::exchange(in_fd, -1));
  line_reader out_lines(max_stdout_line), err_lines(max_stderr_line);
  auto on_stdout = [&](const std::string& line) {
    if (stopped) return;
    auto r = tr.feed(line);
    for (const auto& d : r.diagnostics) diag(d);
    for (const auto& e : r.events) emit(e);
    if (r.stop_now) {
      stopped = true;
      ::kill(-pid, SIGKILL);
    }
  };
  auto on_stderr = [&](const std::string& line) {
    if (line.empty()) return;
    last_stderr = line;
    diag("claude: " + line);
  };
  out_lines.feed(early_out.data(), early_out.size(), on_stdout);
  err_lines.feed(early_err.data(), early_err.size(), on_stderr);

  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (::poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      const int fd = fds[i].fd;
      if (fd == in_fd) {
        ssize_t w = ::write(fd, pending.data(), pending.size());
        if (w > 0) pending.remove_prefix(static_cast<std::size_t>(w));
        if (pending.empty() || (w < 0 && errno != EAGAIN && errno != EINTR)) ::close(std::exchange(in_fd, -1));
        continue;
      }
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      const bool is_out = fd == out_fd;
      if (r > 0 && is_out) out_lines.feed(buf, static_cast<std::size_t>(r), on_stdout);
      if (r > 0 && !is_out) err_lines.feed(buf, static_cast<std::size_t>(r), on_stderr);
      if (r > 0) continue;
      if (is_out) out_lines.finish(on_stdout);
      else err_lines.finish(on_stderr);
      ::close(fd);
      (is_out ? out_fd : err_fd) = -1;
    }
    if (stopped) break;  // the group is dead; a tool's stray descendant must not hold us open
  }
  if (in_fd >= 0) ::close(in_fd);
  if (out_fd >= 0) ::close(out_fd);
  if (err_fd >= 0) ::close(err_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  child_group = 0;
  if (stopped) return 1;
  if (!tr.saw_result()) {
    emit_error("engine", "claude ended (" + describe_exit(status) + ") without a result" +
                             (last_stderr.empty() ? std::string{} : ": " + last_stderr));
    return 1;
  }
  if (tr.failed()) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

void emit_started(const task& t, bool warm, const std::string& restarted_because) {
  nlohmann::json started = {{"type", "started"}, {"engine", "claude"}, {"warm", warm}};
  if (!t.model.empty()) started["model"] = t.model;
  if (!t.session.empty()) started["session"] = t.session;
  if (!restarted_because.empty()) started["restarted"] = restarted_because;
  emit(started);
}

// What a warm CLI read at its start that a later change may have made stale: the instructions file. (Another
// run of the session is berthd's to see — spare_pool::take — the transcript's own stamp cannot tell: the
// waiting CLI writes to it itself as it starts.) Equal stamps: the CLI's view is still current.
std::string context_stamp(const claude_paths& paths) {
  std::ifstream in(paths.instructions, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
}  // namespace

int run_claude(const task& t, const std::string& restarted_because) {
  claude_paths paths = paths_for_this_worker();
  emit_started(t, false, restarted_because);
  auto cmd = prepare_command(t, paths, false);
  auto cli = spawn_cli(cmd, paths);
  if (!cli) return 1;
  return pump_cli(*cli, t.message);
}

int run_prepared(const task& prepared, relay* r, const std::function<int(const task&, const std::string&)>& cold) {
  claude_paths paths = paths_for_this_worker();
  auto prepared_cmd = prepare_command(prepared, paths, true);
  const std::string stamp = context_stamp(paths);
  auto cli = spawn_cli(prepared_cmd, paths);
  if (!cli) return 1;
  // Wait for the real task, and watch the CLI: one that exits meanwhile ends this worker, so berthd sees the
  // spare gone and never hands it out.
  std::string line, early_out, early_err;
  char buf[65536];
  for (;;) {
    pollfd fds[3] = {{0, POLLIN, 0}, {cli->out_fd, POLLIN, 0}, {cli->err_fd, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      kill_cli(*cli);
      return 1;
    }
    if (fds[0].revents) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // berthd let the spare go
        kill_cli(*cli);
        return 0;
      }
      line.append(buf, static_cast<std::size_t>(n));
      if (line.size() > max_task_line) {
        kill_cli(*cli);
        emit_error("input", "task line larger than 2 MiB");
        return 2;
      }
      if (auto nl = line.find('\n'); nl != std::string::npos) {
        line.resize(nl);
        break;
      }
    }
    for (int i : {1, 2}) {
      if (!fds[i].revents) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        diag("the warm claude CLI exited before a run claimed it");
        kill_cli(*cli);
        return 3;
      }
      (i == 1 ? early_out : early_err).append(buf, static_cast<std::size_t>(n));
    }
  }
  task t;
  try {
    t = parse_task(line);
  } catch (const std::exception& e) {
    kill_cli(*cli);
    emit_error("input", e.what());
    return 2;
  }
  std::string why;
  if (t.engine != "claude") why = "engine " + t.engine;
  else if (!r || t.relay.port != prepared.relay.port || t.relay.socket != prepared.relay.socket) why = "the relay";
  if (why.empty()) {
    claude_paths now = paths_for_this_worker();
    auto wanted = prepare_command(t, now, true);
    why = warm_mismatch(prepared_cmd, wanted);
    if (why.empty() && context_stamp(now) != stamp) why = "the instructions changed since the CLI started";
  }
  // The claim releases what the waiting CLI asked the relay for while it started.
  if (r && !t.relay.token.empty()) r->claim(t.relay.token, prepared.relay.token);
  if (!why.empty()) {
    kill_cli(*cli);
    return cold(t, t.engine == "claude" ? why : "");  // another engine is not a restart of the CLI
  }
  emit_started(t, true, "");
  return pump_cli(*cli, stream_json_user_line(t.message), early_out, early_err);
}

}  // namespace berth::worker
