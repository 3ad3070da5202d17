#include "worker/relay.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "worker/emit.hpp"
#include "worker/splice.hpp"

namespace berth::worker {
namespace {
int connect_gateway(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) {
    ::close(fd);
    return -1;
  }
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// "tcp:<host>:<port>": berthd's gateway on a cluster's network (BERTH_GATEWAY_LISTEN), by address or by name
// (a Swarm or Kubernetes service name resolves to the berthd instances behind it).
int connect_tcp(const std::string& target) {
  const std::string rest = target.substr(4);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    errno = EINVAL;
    return -1;
  }
  std::string host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), rest.substr(colon + 1).c_str(), &hints, &found) != 0) {
    errno = EHOSTUNREACH;
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      const int e = errno;
      ::close(fd);
      fd = -1;
      errno = e;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ::freeaddrinfo(found);
  return fd;
}

// The named socket first; when its berthd is gone, any other gateway socket beside it (the instance that
// adopted this run listens there). On TCP the name itself leads to a live instance.
int connect_any_gateway(const std::string& path) {
  if (path.starts_with("tcp:")) return connect_tcp(path);
  int fd = connect_gateway(path);
  if (fd >= 0) return fd;
  const int first_errno = errno;
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().string() == path || !name.starts_with("gateway") || !name.ends_with(".sock")) continue;
    fd = connect_gateway(entry.path().string());
    if (fd >= 0) return fd;
  }
  errno = first_errno;
  return -1;
}
}  // namespace

relay::relay(const task::relay_spec& spec, bool held) : spec_(spec), preamble_("BERTH " + spec.token + "\n"), held_(held) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(spec.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0) {
    std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("relay cannot listen on 127.0.0.1:" + std::to_string(spec.port) + ": " + why);
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  acceptor_ = std::jthread([this] { accept_loop(); });
}

relay::~relay() {
  std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  acceptor_ = {};
  std::vector<std::jthread> connections;
  {
    std::lock_guard lock(m_);
    stopping_ = true;
    connections.swap(connections_);
  }
  cv_.notify_all();
  connections.clear();  // joins: held connections were just woken, the others end with stop_fd_
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void relay::accept_loop() {
  accept_until_stopped(listen_fd_, stop_fd_, [this](int c) {
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(m_);
    connections_.emplace_back([this, c] { serve(c); });
  });
}

void relay::claim(const std::string& run_token, const std::string& engine_key) {
  {
    std::lock_guard lock(m_);
    preamble_ = "BERTH " + run_token + (engine_key.empty() ? "" : " " + engine_key) + "\n";
    held_ = false;
  }
  cv_.notify_all();
}

void relay::serve(int client) {
  std::string preamble;
  {
    std::unique_lock lock(m_);
    cv_.wait(lock, [this] { return !held_ || stopping_; });
    if (stopping_) {
      ::close(client);
      return;
    }
    preamble = preamble_;
  }
  int up = connect_any_gateway(spec_.socket);
  if (up < 0) {
    diag("relay: cannot reach berthd's gateway at " + spec_.socket + ": " + std::strerror(errno));
    ::close(client);
    return;
  }
  if (send_all(up, preamble)) splice_both_ways(client, up, stop_fd_);
  ::close(up);
  ::close(client);
}

}  // namespace berth::worker
