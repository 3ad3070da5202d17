// Bytes straight onto a TCP connection to berthd, for what a well-behaved client library would never send:
// malformed requests, headers without their body, connections left open.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

namespace berth::test {

class raw_connection {
 public:
  explicit raw_connection(int port);
  explicit raw_connection(const std::string& unix_socket);  // e.g. berthd's gateway socket
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;
  bool send(const std::string& bytes);
  // Everything received until the peer closes or `limit` passes; `closed` says which.
  std::string read_all(std::chrono::milliseconds limit, bool* closed = nullptr);
  // What arrives until `marker` has been received (or the peer closes, or `limit` passes).
  std::string read_until(std::string_view marker, std::chrono::milliseconds limit);
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// The status code of the first response line in `raw` ("HTTP/1.1 401 …" → 401), 0 when there is none.
int status_of(const std::string& raw);

}  // namespace berth::test
