// berth-worker's claude engine as a real process: the CLI replaced by small scripts (BERTH_CLAUDE_BIN) so the
// process handling — stdin hand-over, the group kill on auth failure, an exit without a result — is exercised
// outside a container.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/task.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
struct scratch {
  fs::path dir;
  scratch() {
    std::string t = (fs::temp_directory_path() / "berth-worker-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()));
    dir = t;
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write(const std::string& name, const std::string& text, bool exec = false) const {
    std::ofstream(dir / name) << text;
    if (exec) fs::permissions(dir / name, fs::perms::owner_all);
  }
};

struct worker_result {
  int exit_code;
  std::vector<json> events;
};

worker_result run_worker(const scratch& s, const std::string& cli_script, const berth::task& t) {
  s.write("claude", "#!/bin/sh\n" + cli_script, true);
  s.write("task.json", berth::serialize_task(t));
  fs::create_directories(s.dir / "ws");
  std::string cmd = "BERTH_CLAUDE_BIN='" + (s.dir / "claude").string() + "' BERTH_WORKSPACE='" + (s.dir / "ws").string() +
                    "' '" BERTH_WORKER_PATH "' < '" + (s.dir / "task.json").string() + "' > '" +
                    (s.dir / "out.jsonl").string() + "' 2> '" + (s.dir / "err.txt").string() + "'";
  int status = std::system(cmd.c_str());
  worker_result r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, {}};
  std::istringstream lines(s.read("out.jsonl"));
  for (std::string line; std::getline(lines, line);) r.events.push_back(json::parse(line));
  return r;
}

berth::task claude_task(std::string message) {
  berth::task t;
  t.run = "r1";
  t.user = "u";
  t.engine = "claude";
  t.message = std::move(message);
  t.env = {{"ANTHROPIC_API_KEY", "sk-ant-test-key-in-env-only"}};
  return t;
}

bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string all;
  std::getline(stat, all);
  auto close = all.rfind(')');
  return close != std::string::npos && all.size() > close + 2 && all[close + 2] == 'Z';  // a zombie has exited
}
}  // namespace

TEST_CASE("worker process: the message goes to the CLI's stdin - never argv - credentials only in its env") {
  scratch s;
  std::string ws = (s.dir / "ws").string();
  auto r = run_worker(s,
                      "cat > '" + ws + "/stdin.txt'\n"
                      "printf '%s\\n' \"$@\" > '" + ws + "/argv.txt'\n"
                      "env > '" + ws + "/env.txt'\n"
                      "pwd > '" + ws + "/pwd.txt'\n"
                      "echo '{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1,\"result\":\"ok\"}'\n",
                      claude_task("the secret plan"));
  CHECK(r.exit_code == 0);
  CHECK(s.read("ws/stdin.txt") == "the secret plan");
  CHECK(s.read("ws/argv.txt").find("secret plan") == std::string::npos);
  CHECK(s.read("ws/argv.txt").find("--output-format\nstream-json") != std::string::npos);
  CHECK(s.read("ws/env.txt").find("ANTHROPIC_API_KEY=sk-ant-test-key-in-env-only") != std::string::npos);
  CHECK(s.read("ws/env.txt").find("DISABLE_TELEMETRY=1") != std::string::npos);
  CHECK(s.read("ws/pwd.txt") == ws + "\n");
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[0]["type"] == "started");
  CHECK(r.events[1]["type"] == "result");
  CHECK(r.events[1]["text"] == "ok");
}

TEST_CASE("worker process: an exit without a result is an engine error with the CLI's last words") {
  scratch s;
  auto r = run_worker(s, "cat > /dev/null\necho 'not json'\necho 'boom: something broke' >&2\nexit 0\n", claude_task("hi"));
  CHECK(r.exit_code == 1);
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[1]["type"] == "error");
  CHECK(r.events[1]["kind"] == "engine");
  CHECK(r.events[1]["message"].get<std::string>().find("without a result") != std::string::npos);
  CHECK(r.events[1]["message"].get<std::string>().find("boom: something broke") != std::string::npos);
  CHECK(s.read("err.txt").find("not a JSON object") != std::string::npos);
}

TEST_CASE("worker process: the first 401 retry kills the CLI and everything it started") {
  scratch s;
  std::string data = std::string(BERTH_SOURCE_DIR) + "/test/data/claude/auth_401_full.jsonl";
  std::string pids = (s.dir / "pids").string();
  // Prints the recorded lines up to the first api_retry, then waits as the real CLI would (for minutes).
  auto r = run_worker(s,
                      "cat > /dev/null\n"
                      "sleep 600 & echo $! > '" + pids + "'\n"
                      "echo $$ >> '" + pids + "'\n"
                      "head -n 3 '" + data + "'\n"
                      "wait\n",
                      claude_task("hi"));
  CHECK(r.exit_code == 1);
  REQUIRE(r.events.size() == 2);
  CHECK(r.events[1]["type"] == "error");
  CHECK(r.events[1]["kind"] == "auth");
  std::istringstream in(s.read("pids"));
  int n = 0;
  for (pid_t pid; in >> pid; ++n) {
    INFO("pid " << pid);
    bool gone = false;
    for (int i = 0; i < 200 && !(gone = process_gone(pid)); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(gone);
  }
  CHECK(n == 2);
}

TEST_CASE("worker process: the task from BERTH_TASK_FILE when the engine gives no stdin - a missing file is named") {
  scratch s;
  berth::task t;
  t.run = "r1";
  t.user = "u";
  t.engine = "echo";
  t.message = "from the file";
  s.write("task.json", berth::serialize_task(t));
  auto run = [&](const std::string& file) {
    std::string cmd = "BERTH_TASK_FILE='" + file + "' '" BERTH_WORKER_PATH "' < /dev/null > '" + (s.dir / "out.jsonl").string() +
                      "' 2> '" + (s.dir / "err.txt").string() + "'";
    int status = std::system(cmd.c_str());
    worker_result r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, {}};
    std::istringstream lines(s.read("out.jsonl"));
    for (std::string line; std::getline(lines, line);) r.events.push_back(json::parse(line));
    return r;
  };
  auto ok = run((s.dir / "task.json").string());
  CHECK(ok.exit_code == 0);
  std::string text;
  for (const auto& e : ok.events)
    if (e.value("type", "") == "text") text += e.value("text", "");
  CHECK(text.find("from the file") != std::string::npos);

  auto missing = run((s.dir / "nothing-here.json").string());
  CHECK(missing.exit_code == 2);
  REQUIRE(!missing.events.empty());
  CHECK(missing.events.back().value("type", "") == "error");
  CHECK(missing.events.back().dump().find("nothing-here.json") != std::string::npos);
}
