// A minimal HTTP/1.1 exchange over an AF_UNIX socket for Docker's *streaming* endpoints (attach, which is
// hijacked and carries stdin; logs?follow and /events, which are chunked). cpp-httplib serves the plain
// request/response calls; here the caller gets a file descriptor it can poll() together with its own wake-up
// fd and deadlines, so a run thread can time out, be cancelled or detach without killing anything.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace berth::docker {

// Incremental decoder for `Transfer-Encoding: chunked`. Pure.
class chunked_decoder {
 public:
  // Appends decoded body bytes to `out`. Returns false on malformed input.
  bool feed(std::string_view in, std::string& out);
  bool done() const { return state_ == state::done; }

 private:
  enum class state { size, size_ext, size_lf, data, data_cr, data_lf, trailer, trailer_lf, done };
  state state_ = state::size;
  std::uint64_t remaining_ = 0;
  bool size_digits_ = false;
  bool trailer_empty_ = true;
};

struct stream_read {
  std::string data;  // decoded body bytes (may be empty even when the fd was readable)
  bool eof = false;
};

class unix_stream {
 public:
  unix_stream() = default;
  unix_stream(const unix_stream&) = delete;
  unix_stream& operator=(const unix_stream&) = delete;
  unix_stream(unix_stream&& o) noexcept;
  unix_stream& operator=(unix_stream&& o) noexcept;
  ~unix_stream();

  // Connects, sends `method path` (+ body as JSON when non-empty) and reads the response head within
  // `timeout_ms`. Throws docker_error on connection failure or a status >= 400 (with Docker's message).
  static unix_stream open(const std::string& socket_path, std::string_view method, const std::string& path,
                          std::string_view body, int timeout_ms, bool upgrade = false);

  // A stream over a connected socket this process made (one end of a socketpair): its bytes as they come, no
  // HTTP framing. Owns `fd`.
  static unix_stream adopt(int fd);

  int fd() const { return fd_; }
  int status() const { return status_; }
  // Bytes already read past the head are returned by the next read() without touching the fd.
  bool has_buffered() const { return !buffered_.empty(); }
  // One read(2) at most; blocks only if the fd is blocking and nothing is buffered.
  stream_read read();
  void write_all(std::string_view data);
  void shutdown_write();
  // Safe from another thread: makes a blocked read() return eof.
  void shutdown_both();

 private:
  int fd_ = -1;
  int status_ = 0;
  bool chunked_ = false;
  bool ended_ = false;
  std::string buffered_;
  chunked_decoder chunks_;
  std::int64_t content_left_ = -1;  // -1: until EOF
};

}  // namespace berth::docker
