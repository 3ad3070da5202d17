#include "netns_forwarder.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "worker/splice.hpp"

namespace berth::test {
namespace {
struct fd_closer {
  int fd;
  ~fd_closer() { if (fd >= 0) ::close(fd); }
};

// Makes the listening socket inside `pid`'s network namespace, on a thread of its own that ends right after
// (the rest of the process never leaves its namespace).
int listen_in(pid_t pid, std::uint16_t port) {
  int result = -1;
  std::string error;
  std::thread([&] {
    fd_closer theirs{::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC)};
    if (theirs.fd < 0 || ::setns(theirs.fd, CLONE_NEWNET) != 0) {
      error = std::string("entering the namespace: ") + std::strerror(errno);
      return;
    }
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 64) != 0) {
      error = std::string("listening: ") + std::strerror(errno);
      ::close(s);
    } else {
      result = s;
    }
  }).join();
  if (result < 0) throw std::runtime_error("netns_forwarder: " + error);
  return result;
}

int connect_unix(const std::string& path) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}
}  // namespace

netns_forwarder::netns_forwarder(pid_t in_namespace_of, std::uint16_t port, std::string unix_path)
    : unix_path_(std::move(unix_path)), listen_fd_(listen_in(in_namespace_of, port)), stop_fd_(::eventfd(0, EFD_CLOEXEC)) {
  acceptor_ = std::jthread([this] { accept_loop(); });
}

netns_forwarder::~netns_forwarder() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
  acceptor_.join();
  {
    std::lock_guard lock(m_);
    pipes_.clear();  // joins: each pipe also watches stop_fd_
  }
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void netns_forwarder::accept_loop() {
  worker::accept_until_stopped(listen_fd_, stop_fd_, [this](int c) {
    ++connections_;
    std::lock_guard lock(m_);
    pipes_.emplace_back([this, c] {
      fd_closer client{c};
      fd_closer gateway{connect_unix(unix_path_)};
      if (gateway.fd >= 0) worker::splice_both_ways(client.fd, gateway.fd, stop_fd_);
    });
  });
}

}  // namespace berth::test
