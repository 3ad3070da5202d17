// Opens N event streams on one run at once and reads them to their end with one poll() loop, so the
// subscribers cost the benchmark almost nothing and the measurement is berthd's fan-out, not the client's.
//   sse_fanout PORT RUN_ID N API_KEY [TIMEOUT_S]
// Prints one JSON line: {"connected", "completed", "events", "seconds", "events_per_s"}.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: sse_fanout PORT RUN_ID N API_KEY [TIMEOUT_S]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string run = argv[2];
  const int n = std::atoi(argv[3]);
  const std::string key = argv[4];
  const int timeout_s = argc > 5 ? std::atoi(argv[5]) : 120;
  const std::string req = "GET /api/v1/runs/" + run + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + key +
                          "\r\nAccept: text/event-stream\r\n\r\n";
  std::vector<pollfd> fds;
  std::vector<std::string> tails(static_cast<std::size_t>(n));
  long long events = 0;
  int connected = 0;
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      if (fd >= 0) ::close(fd);
      continue;
    }
    ++connected;
    fds.push_back({fd, POLLIN, 0});
  }
  auto t0 = std::chrono::steady_clock::now();
  auto deadline = t0 + std::chrono::seconds(timeout_s);
  int open = connected, completed = 0;
  std::vector<char> buf(1 << 16);
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    int r = ::poll(fds.data(), fds.size(), 1000);
    if (r <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::recv(fds[i].fd, buf.data(), buf.size(), 0);
      if (got <= 0) {
        if (tails[i].find("event: done") != std::string::npos) ++completed;
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      // Count "\nevent: " across read boundaries by keeping the last few bytes.
      std::string chunk = tails[i] + std::string(buf.data(), static_cast<std::size_t>(got));
      // A match must include at least one new byte: start 7 bytes (pattern length - 1) into the old tail.
      for (std::size_t p = chunk.find("\nevent: ", tails[i].size() > 7 ? tails[i].size() - 7 : 0); p != std::string::npos;
           p = chunk.find("\nevent: ", p + 1))
        ++events;
      tails[i] = chunk.size() > 512 ? chunk.substr(chunk.size() - 512) : chunk;  // holds the whole done frame
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"connected\": %d, \"completed\": %d, \"events\": %lld, \"seconds\": %.3f, \"events_per_s\": %.0f}\n",
              connected, completed, events, secs, static_cast<double>(events) / secs);
  return completed == connected ? 0 : 1;
}
