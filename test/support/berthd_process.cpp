#include "berthd_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "server/docker/docker_client.hpp"

namespace berth::test {
namespace fs = std::filesystem;

std::string make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "berth-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

temp_dir::temp_dir() : path(make_temp_dir()) {}

temp_dir::~temp_dir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

berthd_process::berthd_process(std::map<std::string, std::string> env, std::string data_dir)
    : env_(std::move(env)), data_dir_(std::move(data_dir)) {
  if (data_dir_.empty()) {
    data_dir_ = make_temp_dir();
    own_dir_ = true;
  }
  try {
    start();
  } catch (...) {
    // A constructor that throws runs no destructor: what this one made goes now.
    remove_instance_volumes();
    std::error_code ec;
    if (own_dir_) fs::remove_all(data_dir_, ec);
    throw;
  }
}

berthd_process::~berthd_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    wait_exit();
  }
  remove_instance_volumes();
  if (own_dir_) {
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
  }
}

void berthd_process::start() {
  ++starts_;
  std::map<std::string, std::string> env = {
      {"BERTH_API_KEYS", test_key},
      {"BERTH_LISTEN", "127.0.0.1:0"},
      {"BERTH_DATA_DIR", data_dir_},
      {"BERTH_ENGINES", "echo,script"},
      {"BERTH_DEFAULT_ENGINE", "echo"},
      {"BERTH_WORKER_NETWORK", "none"},
      {"BERTH_ORPHAN_GRACE_S", "3600"},
      {"PATH", "/usr/bin:/bin"},
  };
  // Sanitizer builds: berthd reports where the test run says (scripts/test points them at a directory it checks).
  for (const char* k : {"TSAN_OPTIONS", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
    if (const char* v = std::getenv(k)) env[k] = v;
  for (const auto& [k, v] : env_) env[k] = v;
  std::vector<std::string> kv;
  for (const auto& [k, v] : env) kv.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : kv) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string log_path = data_dir_ + "/berthd.log";
  std::string bin = BERTHD_PATH;

  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 2);
    ::dup2(fd, 1);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    char* argv[] = {bin.data(), nullptr};
    ::execve(bin.c_str(), argv, envp.data());
    ::_exit(127);
  }
  // Wait for this start's "listening address=127.0.0.1:PORT" line.
  std::regex listening(R"(listening address=127\.0\.0\.1:(\d+))");
  std::regex inst(R"(berthd starting instance=(\w+))");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string l = log();
    std::vector<std::smatch> found;
    int seen = 0;
    for (auto it = std::sregex_iterator(l.begin(), l.end(), listening); it != std::sregex_iterator(); ++it) {
      if (++seen == starts_) port_ = std::stoi((*it)[1]);
    }
    std::smatch m;
    if (std::regex_search(l, m, inst)) instance_ = m[1];
    if (seen >= starts_) return;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("berthd exited during start:\n" + l);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // A berthd that never listened must not outlive the test (a constructor that throws runs no destructor).
  auto why = log();
  ::kill(pid_, SIGKILL);
  wait_exit();
  throw std::runtime_error("berthd did not start listening:\n" + why);
}

// Workspace and instructions volumes are named per instance: each test's berthd makes its own, removed here
// (with any container of the instance still holding one).
void berthd_process::remove_instance_volumes() {
  if (instance_.empty()) return;
  try {
    docker::docker_client engine("/var/run/docker.sock");
    // Each on its own: one that cannot go (still in use) must not keep the others.
    for (const auto& c : engine.list("berth.instance=" + instance_, true)) try { engine.remove(c.id); } catch (const std::exception&) {}
    for (const auto& v : engine.list_volumes("berth.instance=" + instance_)) try { engine.remove_volume(v); } catch (const std::exception&) {}
  } catch (const std::exception&) {
    // a test without an engine (or one that stopped it) has nothing to clean here
  }
}

void berthd_process::wait_exit() {
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void berthd_process::terminate() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  wait_exit();
}

void berthd_process::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_exit();
}

std::string berthd_process::log() const {
  std::ifstream in(data_dir_ + "/berthd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

long berthd_process::rss_kib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace berth::test
