#include "server/docker/unix_http.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/json_bounded.hpp"
#include "common/strings.hpp"

#include "server/docker/docker_error.hpp"

namespace berth::docker {

namespace {
constexpr std::size_t max_head_bytes = 64 * 1024;
constexpr std::size_t read_chunk = 64 * 1024;

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}
}  // namespace

bool chunked_decoder::feed(std::string_view in, std::string& out) {
  for (std::size_t i = 0; i < in.size();) {
    char c = in[i];
    switch (state_) {
      case state::size: {
        int v = hexval(c);
        if (v >= 0) {
          if (remaining_ > (UINT64_MAX >> 4)) return false;
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(v);
          size_digits_ = true;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = state::size_ext;
        } else if (c == '\r') {
          state_ = state::size_lf;
        } else {
          return false;
        }
        ++i;
        break;
      }
      case state::size_ext:
        if (c == '\r') state_ = state::size_lf;
        ++i;
        break;
      case state::size_lf:
        if (c != '\n' || !size_digits_) return false;
        size_digits_ = false;
        state_ = remaining_ == 0 ? state::trailer : state::data;
        trailer_empty_ = true;
        ++i;
        break;
      case state::data: {
        std::size_t take = std::min<std::uint64_t>(remaining_, in.size() - i);
        out.append(in.substr(i, take));
        remaining_ -= take;
        i += take;
        if (remaining_ == 0) state_ = state::data_cr;
        break;
      }
      case state::data_cr:
        if (c != '\r') return false;
        state_ = state::data_lf;
        ++i;
        break;
      case state::data_lf:
        if (c != '\n') return false;
        state_ = state::size;
        ++i;
        break;
      case state::trailer:
        if (c == '\r') state_ = state::trailer_lf;
        else trailer_empty_ = false;
        ++i;
        break;
      case state::trailer_lf:
        if (c != '\n') return false;
        if (trailer_empty_) state_ = state::done;
        else { state_ = state::trailer; trailer_empty_ = true; }
        ++i;
        break;
      case state::done:
        return true;  // bytes after the last chunk are ignored
    }
  }
  return true;
}

unix_stream::unix_stream(unix_stream&& o) noexcept { *this = std::move(o); }

unix_stream& unix_stream::operator=(unix_stream&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    status_ = o.status_;
    chunked_ = o.chunked_;
    ended_ = o.ended_;
    buffered_ = std::move(o.buffered_);
    chunks_ = o.chunks_;
    content_left_ = o.content_left_;
  }
  return *this;
}

unix_stream::~unix_stream() {
  if (fd_ >= 0) ::close(fd_);
}

unix_stream unix_stream::adopt(int fd) {
  unix_stream s;
  s.fd_ = fd;
  s.status_ = 200;
  return s;
}

unix_stream unix_stream::open(const std::string& socket_path, std::string_view method, const std::string& path,
                              std::string_view body, int timeout_ms, bool upgrade) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  unix_stream s;
  s.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.fd_ < 0) throw docker_error(0, std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) throw docker_error(0, "docker socket path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(s.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw docker_error(0, "cannot connect to " + socket_path + ": " + std::strerror(errno));

  std::string req = std::string(method) + " " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: berthd\r\n";
  if (upgrade) req += "Connection: Upgrade\r\nUpgrade: tcp\r\n";
  if (!body.empty()) req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  s.write_all(req);

  std::string head;
  char buf[4096];
  std::size_t end;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    if (head.size() > max_head_bytes) throw docker_error(0, "docker response head too large");
    if (!wait_fd(s.fd_, POLLIN, deadline)) throw docker_error(0, "docker did not answer " + path + " in time");
    ssize_t n = ::recv(s.fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw docker_error(0, "docker closed the connection on " + path);
    head.append(buf, static_cast<std::size_t>(n));
  }
  s.buffered_ = head.substr(end + 4);
  head.resize(end);

  // Status line: HTTP/1.1 101 UPGRADED
  auto sp = head.find(' ');
  s.status_ = sp == std::string::npos ? 0 : std::atoi(head.c_str() + sp + 1);
  std::string lh = ascii_lower(head);
  s.chunked_ = lh.find("\r\ntransfer-encoding: chunked") != std::string::npos;
  if (auto cl = lh.find("\r\ncontent-length:"); cl != std::string::npos)
    s.content_left_ = std::atoll(lh.c_str() + cl + 17);
  if (s.status_ == 101) s.content_left_ = -1;

  if (s.status_ >= 400 || s.status_ == 0) {
    // Collect the (small) error body for Docker's {"message": ...}.
    std::string err;
    for (int i = 0; i < 64 && !s.ended_; ++i) {
      if (!s.has_buffered() && !wait_fd(s.fd_, POLLIN, deadline)) break;
      auto r = s.read();
      err += r.data;
      if (r.eof || err.size() > 8192) break;
    }
    auto j = parse_json(err);
    std::string msg = j.is_object() && j.contains("message") && j["message"].is_string()
                          ? j["message"].get<std::string>() : err;
    throw docker_error(s.status_, std::string(method) + " " + path + ": " + std::to_string(s.status_) + " " + msg);
  }
  return s;
}

stream_read unix_stream::read() {
  stream_read r;
  if (ended_) { r.eof = true; return r; }
  std::string raw;
  if (!buffered_.empty()) {
    raw = std::move(buffered_);
    buffered_.clear();
  } else {
    raw.resize(read_chunk);
    ssize_t n;
    do n = ::recv(fd_, raw.data(), raw.size(), 0); while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { raw.clear(); return r; }
    if (n <= 0) { ended_ = true; r.eof = true; return r; }
    raw.resize(static_cast<std::size_t>(n));
  }
  if (chunked_) {
    if (!chunks_.feed(raw, r.data)) { ended_ = true; r.eof = true; return r; }
    if (chunks_.done()) { ended_ = true; r.eof = true; }
  } else if (content_left_ >= 0) {
    auto take = std::min<std::size_t>(raw.size(), static_cast<std::size_t>(content_left_));
    r.data = raw.substr(0, take);
    content_left_ -= static_cast<std::int64_t>(take);
    if (content_left_ == 0) { ended_ = true; r.eof = true; }
  } else {
    r.data = std::move(raw);
  }
  return r;
}

void unix_stream::write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw docker_error(0, std::string("write to docker failed: ") + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void unix_stream::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void unix_stream::shutdown_both() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace berth::docker
