#include "private_engine.hpp"

#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "docker_helpers.hpp"

namespace berth::test {
namespace fs = std::filesystem;

namespace {
std::string short_temp_dir() {
  std::string tmpl = "/tmp/bpe-XXXXXX";  // short: a unix socket path has at most 107 bytes
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

// Unmounts whatever the engine left mounted under `dir` (overlay layers, shm), deepest first.
void unmount_below(const std::string& dir) {
  std::ifstream mounts("/proc/self/mounts");
  std::vector<std::string> targets;
  for (std::string dev, target, rest; mounts >> dev >> target && std::getline(mounts, rest);)
    if (target.rfind(dir + "/", 0) == 0) targets.push_back(target);
  for (auto it = targets.rbegin(); it != targets.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
}
}  // namespace

private_engine::private_engine(const std::string& image)
    : dir_(short_temp_dir()), bridge_("bpe" + dir_.substr(dir_.size() - 6)), client_(dir_ + "/d.sock") {
  // Its own bridge: `--bridge=none` would make this dockerd DELETE the shared engine's docker0 (moby removes
  // the default bridge interface when bridging is disabled), breaking every build and bridge container.
  if (std::system(("ip link add name '" + bridge_ + "' type bridge").c_str()) != 0)
    throw std::runtime_error("could not create bridge " + bridge_ + " (ip link add)");
  start();
  std::string cmd = "docker save '" + image + "' | docker -H '" + host() + "' load -q >/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    stop();
    throw std::runtime_error("could not copy " + image + " into the private engine");
  }
}

private_engine::~private_engine() {
  stop();
  unmount_below(dir_);
  (void)!std::system(("ip link del '" + bridge_ + "' 2>/dev/null").c_str());
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void private_engine::start() {
  if (pid_ > 0) return;
  std::string sock = "unix://" + socket_path(), data = dir_ + "/data", exec = dir_ + "/x", pidf = dir_ + "/d.pid",
              log = dir_ + "/dockerd.log";
  std::fflush(nullptr);  // or the child's freopen flushes the parent's pending output a second time
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setsid();
    std::freopen("/dev/null", "r", stdin);
    std::freopen(log.c_str(), "a", stdout);
    std::freopen(log.c_str(), "a", stderr);
    ::execlp("dockerd", "dockerd", "-H", sock.c_str(), "--data-root", data.c_str(), "--exec-root", exec.c_str(),
             "--pidfile", pidf.c_str(), "--bridge", bridge_.c_str(), "--iptables=false", "--ip-masq=false",
             "--ip-forward=false", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool up = eventually([&] {
    try {
      client_.ping_or_throw();
      return true;
    } catch (const std::exception&) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) throw std::runtime_error("private dockerd exited; see " + log);
      return false;
    }
  }, std::chrono::seconds(30));
  if (!up) throw std::runtime_error("private dockerd did not answer within 30 s; see " + log);
}

void private_engine::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace berth::test
