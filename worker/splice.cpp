#include "worker/splice.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace berth::worker {

bool send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void splice_both_ways(int a, int b, int stop_fd) {
  char buf[16384];
  bool open[2] = {true, true};  // a→b, b→a
  while (open[0] || open[1]) {
    pollfd p[3] = {{open[0] ? a : -1, POLLIN, 0}, {open[1] ? b : -1, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[2].revents) return;
    for (int side = 0; side < 2; ++side) {
      if (!(p[side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int from = side == 0 ? a : b, to = side == 0 ? b : a;
      ssize_t n = ::recv(from, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open[side] = false;
        ::shutdown(to, SHUT_WR);
      } else if (!send_all(to, std::string_view(buf, static_cast<std::size_t>(n)))) {
        return;
      }
    }
  }
}

void accept_until_stopped(int listen_fd, int stop_fd, const std::function<void(int)>& on_connection) {
  for (;;) {
    pollfd p[2] = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) on_connection(c);
  }
}

}  // namespace berth::worker
