// P7 helper: the credential gateway's added time per model request. Eight workers at once (one thread each,
// one kept-alive connection each, as the CLI keeps one) send the same streaming Messages request R times:
// through berthd's gateway socket (the run's token, as a worker's relay sends it), then straight to the
// fake API over TCP. Prints JSON with the medians of time to first byte and to the end of the answer.
//   gateway_latency --db DATA/berth.db --socket GATEWAY.sock --runs id1,...,id8 --fake-port P [--requests R]
//                   [--stall MS]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "server/runs/run_tokens.hpp"

namespace {
using clock_type = std::chrono::steady_clock;

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect " + path);
  return fd;
}

int connect_tcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect fake");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    auto n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send");
    off += static_cast<std::size_t>(n);
  }
}

int stall_ms = 0;  // --stall: the fake waits this long before answering, as a real model does before its first token

std::string request(const std::string& key) {
  std::string text = "@@text:40 @@delay:2" + (stall_ms ? " @@stall:" + std::to_string(stall_ms) : std::string());
  std::string body = R"({"model":"claude-fake","max_tokens":64,"stream":true,"messages":[{"role":"user","content":")" + text + R"("}]})";
  return "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: " + key +
         "\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct sample {
  double first_ms, total_ms;
};

// One request on a kept-alive connection; the answer is chunked and ends with the last chunk.
sample exchange(int fd, const std::string& req) {
  auto t0 = clock_type::now();
  send_all(fd, req);
  std::string got;
  char buf[16384];
  double first = -1;
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("connection closed mid-answer");
    if (first < 0) first = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
    got.append(buf, static_cast<std::size_t>(n));
    if (got.size() >= 5 && got.compare(got.size() - 5, 5, "0\r\n\r\n") == 0 && got.find("message_stop") != std::string::npos) break;
  }
  if (got.compare(0, 12, "HTTP/1.1 200") != 0) throw std::runtime_error("answer: " + got.substr(0, 200));
  return {first, std::chrono::duration<double, std::milli>(clock_type::now() - t0).count()};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// `open` makes one connection per worker; all eight run at once.
template <class Open>
std::vector<sample> measure(std::size_t workers, int requests, Open open, const std::vector<std::string>& keys) {
  std::vector<sample> all;
  std::mutex m;
  std::vector<std::jthread> threads;
  for (std::size_t w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      int fd = open(w);
      auto req = request(keys[w]);
      exchange(fd, req);  // warm-up: connections made, upstream connection open
      std::vector<sample> mine;
      for (int i = 0; i < requests; ++i) mine.push_back(exchange(fd, req));
      ::close(fd);
      std::lock_guard lock(m);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  threads.clear();
  return all;
}
}  // namespace

int main(int argc, char** argv) {
  std::string db, socket, runs;
  int fake_port = 0, requests = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--db") db = v;
    else if (k == "--socket") socket = v;
    else if (k == "--runs") runs = v;
    else if (k == "--fake-port") fake_port = std::stoi(v);
    else if (k == "--requests") requests = std::stoi(v);
    else if (k == "--stall") stall_ms = std::stoi(v);
  }
  try {
    SQLite::Database d(db, SQLite::OPEN_READONLY);
    SQLite::Statement q(d, "SELECT value FROM meta WHERE key = 'gateway_secret'");
    if (!q.executeStep()) throw std::runtime_error("no gateway secret in " + db);
    const std::string secret = q.getColumn(0).getString();
    std::vector<std::string> tokens;
    for (std::size_t from = 0; from < runs.size();) {
      auto comma = runs.find(',', from);
      tokens.push_back(berth::runs::run_token(secret, runs.substr(from, comma - from)));
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
    const std::size_t workers = tokens.size();
    auto via_gateway = measure(workers, requests, [&](std::size_t w) {
      int fd = connect_unix(socket);
      send_all(fd, "BERTH " + tokens[w] + "\n");
      return fd;
    }, tokens);
    auto direct = measure(workers, requests, [&](std::size_t) { return connect_tcp(fake_port); },
                          std::vector<std::string>(workers, "direct"));
    auto pick = [](const std::vector<sample>& s, bool first) {
      std::vector<double> v;
      for (const auto& x : s) v.push_back(first ? x.first_ms : x.total_ms);
      return median(v);
    };
    std::printf("{\"requests\": %zu, \"gateway_first_ms\": %.3f, \"gateway_total_ms\": %.3f, "
                "\"direct_first_ms\": %.3f, \"direct_total_ms\": %.3f}\n",
                via_gateway.size(), pick(via_gateway, true), pick(via_gateway, false), pick(direct, true), pick(direct, false));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gateway_latency: %s\n", e.what());
    return 1;
  }
  return 0;
}
