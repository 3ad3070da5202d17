// Runs the real berthd binary as a child process for integration tests: its own temporary data dir,
// 127.0.0.1 on a free port, its log captured to a file. kill9() simulates a crash; restart() starts it again
// on the same data dir.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <utility>
#include <map>
#include <string>

namespace berth::test {

inline const std::string test_key = "test-key-0123456789abcdef";

// Built with BERTH_SANITIZE: memory and descriptor figures are the sanitizer runtime's as much as berthd's,
// so the tests that measure them check only the behaviour.
#ifdef BERTH_SANITIZED
inline constexpr bool sanitized_build = true;
#else
inline constexpr bool sanitized_build = false;
#endif
// Catch2 v2 has no SKIP: the test passes with a warning saying why it measured nothing.
#define SKIP_SANITIZED(why) \
  do {                      \
    WARN(why);              \
    return;                 \
  } while (0)

class berthd_process {
 public:
  // Construct with parentheses: `d({{"A", "1"}, {"B", "2"}})`. Braces (`d{{{"A", "1"}, {"B", "2"}}}`) make
  // this an initializer-list constructor call with ONE pair built from two iterator-range strings.
  using env_list = std::initializer_list<std::pair<const std::string, std::string>>;
  explicit berthd_process(env_list env = {}, std::string data_dir = "")
      : berthd_process(std::map<std::string, std::string>(env), std::move(data_dir)) {}
  explicit berthd_process(std::map<std::string, std::string> env, std::string data_dir = "");
  ~berthd_process();
  berthd_process(const berthd_process&) = delete;
  berthd_process& operator=(const berthd_process&) = delete;

  void start();
  void terminate();  // SIGTERM, wait for exit
  void kill9();      // SIGKILL, wait for exit
  void restart() { start(); }
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& instance() const { return instance_; }
  std::string log() const;
  pid_t pid() const { return pid_; }
  long rss_kib() const;

 private:
  void wait_exit();
  void remove_instance_volumes();
  std::map<std::string, std::string> env_;
  std::string data_dir_;
  bool own_dir_ = false;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string instance_;
  int starts_ = 0;
};

std::string make_temp_dir();

// A scratch directory removed at scope exit.
struct temp_dir {
  temp_dir();
  ~temp_dir();
  std::string path;
};

}  // namespace berth::test
