// 10,000 malformed, oversized, slow and abandoned requests against one berthd: no crash, no 5xx, /health
// answering throughout, and no descriptors or memory kept afterwards.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <signal.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
#include "raw_http.hpp"

using namespace berth::test;
using namespace std::chrono_literals;

namespace {
int open_fds(pid_t pid) {
  int n = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

// The hostile request number i: one of the kinds below, cycling.
std::string hostile(int i, const std::string& key) {
  std::string deep(200, '[');
  switch (i % 10) {
    case 0: return "GARBAGE\r\n\r\n";
    case 1: return "GET /health HTTP/1.1\r\nX-Long: " + std::string(20000, 'a') + "\r\n\r\n";  // headers over 16 KiB
    case 2: return "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nX-API-Key: " + key + "\r\n\r\n";
    case 3: return "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nX-API-Key: wrong-key-000000000000\r\nContent-Length: 2\r\n\r\n{}";
    case 4: return "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: " + key +
                   "\r\nContent-Length: " + std::to_string(deep.size()) + "\r\n\r\n" + deep;
    case 5: return "GET /api/v1/runs/%00%ff/../../etc/passwd HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + "\r\n\r\n";
    case 6: return "POST /hooks/slack HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{{{";
    case 7: return "GET /api/v1/runs?limit=99999999999999999999&since=-1 HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + "\r\n\r\n";
    case 8: return "PUT /api/v1/users/../instructions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-API-Key: " + key +
                   "\r\n\r\nzz\r\n";
    default: return "GET /dashboard/api/runs HTTP/1.1\r\nHost: x\r\nCookie: berth_session=" + std::string(64, 'f') + "\r\n\r\n";
  }
}
}  // namespace

TEST_CASE("10000 hostile requests: no crash - no 5xx - health throughout - nothing kept after", "[integration][hostile]") {
  // Wrong keys are part of the mix; the failure limits are raised so the other kinds still reach their paths.
  berthd_process d({{"BERTH_ENGINES", "echo"}, {"BERTH_AUTH_FAILURES_PER_CLIENT", "1000000"},
                    {"BERTH_AUTH_FAILURES_GLOBAL", "1000000"}});
  api_client(d.port(), test_key).get("/health");
  const int fds_before = open_fds(d.pid());
  const long rss_before = d.rss_kib();

  std::atomic<bool> done{false};
  std::atomic<int> health_failures{0}, health_checks{0};
  std::thread health([&] {
    api_client h(d.port());
    while (!done) {
      if (h.get("/health").status != 200) ++health_failures;
      ++health_checks;
      std::this_thread::sleep_for(50ms);  // a steady prober, not a synchronisation
    }
  });

  std::atomic<int> fivexx{0}, answered{0}, refused_connects{0};
  std::mutex slow_m;
  std::vector<std::unique_ptr<raw_connection>> slow;  // slow clients: half a request line, then silence
  constexpr int threads = 8, per_thread = 1250;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (int i = t * per_thread; i < (t + 1) * per_thread; ++i) try {
        if (i % 97 == 0) {
          auto s = std::make_unique<raw_connection>(d.port());
          s->send("GET /heal");
          std::lock_guard lock(slow_m);
          slow.push_back(std::move(s));
          continue;
        }
        raw_connection c(d.port());
        if (i % 89 == 0) continue;  // abandoned: connect and go
        c.send(hostile(i, test_key));
        auto raw = c.read_until("\r\n", 5s);
        int status = status_of(raw);
        if (status >= 500) ++fivexx;
        if (status > 0) ++answered;
      } catch (const std::exception&) {
        ++refused_connects;
      }
    });
  for (auto& w : workers) w.join();
  done = true;
  health.join();

  // berthd ends each slow client itself (15 s without a whole request), without any answer from it.
  for (auto& s : slow) {
    bool closed = false;
    s->read_all(30s, &closed);
    CHECK(closed);
  }
  slow.clear();
  CHECK(fivexx == 0);
  CHECK(refused_connects == 0);
  CHECK(answered > 9000);
  CHECK(health_failures == 0);
  CHECK(health_checks > 10);
  REQUIRE(::kill(d.pid(), 0) == 0);  // still alive
  // Slow clients time out after 15 s of silence; then berthd holds what it held before.
  CHECK(eventually([&] { return open_fds(d.pid()) <= fds_before + 2; }, 30s));
  if (!sanitized_build) CHECK(d.rss_kib() < rss_before + 64 * 1024);  // ASan's quarantine keeps freed memory
  CHECK(api_client(d.port(), test_key).get("/health").status == 200);
}
