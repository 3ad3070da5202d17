#include "docker_fault_proxy.hpp"

#include "worker/splice.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace berth::test {
namespace {
constexpr std::size_t max_head = 64 * 1024;

int unix_socket(const std::string& path, bool listen_here) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  auto* sa = reinterpret_cast<sockaddr*>(&a);
  bool ok = listen_here ? (::bind(fd, sa, sizeof a) == 0 && ::listen(fd, 64) == 0) : ::connect(fd, sa, sizeof a) == 0;
  if (!ok) {
    std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error(path + ": " + why);
  }
  return fd;
}

}  // namespace

docker_fault_proxy::docker_fault_proxy(std::string path, std::string upstream, rule refuse)
    : path_(std::move(path)), upstream_(std::move(upstream)), refuse_(std::move(refuse)) {
  ::unlink(path_.c_str());
  listen_fd_ = unix_socket(path_, true);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  acceptor_ = std::jthread([this] { accept_loop(); });
}

docker_fault_proxy::~docker_fault_proxy() {
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  acceptor_ = {};  // joins
  {
    std::lock_guard lock(m_);
    connections_.clear();  // joins each: they all watch stop_fd_
  }
  ::close(listen_fd_);
  ::close(stop_fd_);
  ::unlink(path_.c_str());
}

void docker_fault_proxy::accept_loop() {
  worker::accept_until_stopped(listen_fd_, stop_fd_, [this](int c) {
    std::lock_guard lock(m_);
    connections_.emplace_back([this, c] { serve(c); });
  });
}

void docker_fault_proxy::serve(int client) {
  std::string head;
  char buf[16384];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < max_head) {
    pollfd p[2] = {{client, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) <= 0 || p[1].revents) { ::close(client); return; }
    ssize_t n = ::recv(client, buf, sizeof buf, 0);
    if (n <= 0) { ::close(client); return; }
    head.append(buf, static_cast<std::size_t>(n));
  }
  auto sp1 = head.find(' ');
  auto sp2 = head.find(' ', sp1 + 1);
  std::string_view line(head);
  if (sp1 != std::string::npos && sp2 != std::string::npos &&
      refuse_(line.substr(0, sp1), line.substr(sp1 + 1, sp2 - sp1 - 1))) {
    ++refused_;
    const std::string body = R"({"message":"refused by the test's fault proxy"})";
    worker::send_all(client, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    ::close(client);
    return;
  }
  int up = -1;
  try {
    up = unix_socket(upstream_, false);
  } catch (const std::exception&) {
    ::close(client);
    return;
  }
  if (worker::send_all(up, head)) worker::splice_both_ways(client, up, stop_fd_);
  ::close(up);
  ::close(client);
}

}  // namespace berth::test
