#include "gateway_helpers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>

#include "server/runs/run_tokens.hpp"

namespace berth::test {

std::string gateway_socket(const berthd_process& d) {
  auto log = d.log();
  auto at = log.find("gateway listening socket=");
  if (at == std::string::npos) throw std::runtime_error("berthd did not log its gateway socket");
  at += 25;
  return log.substr(at, log.find_first_of(" \n", at) - at);
}

std::string gateway_token(const berthd_process& d, const std::string& run) {
  SQLite::Database db(d.data_dir() + "/berth.db", SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT value FROM meta WHERE key = 'gateway_secret'");
  if (!q.executeStep()) throw std::runtime_error("no gateway secret in the store");
  return runs::run_token(q.getColumn(0).getString(), run);
}

std::string messages_request(const std::string& key, const std::string& text) {
  auto body = nlohmann::json{{"model", "claude-fake"}, {"max_tokens", 64}, {"stream", true},
                             {"messages", {{{"role", "user"}, {"content", text}}}}}.dump();
  return "POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: " + key +
         "\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct probe_server::impl {
  int listen_fd = -1;
  int stop_fd = ::eventfd(0, EFD_CLOEXEC);
  std::atomic<int> seen{0};
  std::string answer;
  std::jthread loop;
};

probe_server::probe_server(std::string answer) : p_(std::make_unique<impl>()) {
  p_->answer = std::move(answer);
  p_->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(p_->listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(p_->listen_fd, 16) != 0 ||
      ::getsockname(p_->listen_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("probe_server: cannot listen");
  port_ = ntohs(a.sin_port);
  p_->loop = std::jthread([p = p_.get()] {
    for (;;) {
      pollfd f[2] = {{p->listen_fd, POLLIN, 0}, {p->stop_fd, POLLIN, 0}};
      if (::poll(f, 2, -1) < 0 && errno != EINTR) return;
      if (f[1].revents) return;
      int c = ::accept4(p->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++p->seen;
      (void)!::send(c, p->answer.data(), p->answer.size(), MSG_NOSIGNAL);
      ::shutdown(c, SHUT_WR);
      ::close(c);
    }
  });
}

probe_server::~probe_server() {
  std::uint64_t one = 1;
  (void)!::write(p_->stop_fd, &one, sizeof one);
  p_->loop = {};
  ::close(p_->listen_fd);
  ::close(p_->stop_fd);
}

int probe_server::connections() const { return p_->seen.load(); }

}  // namespace berth::test
