// Rate limits on failed credentials (wrong API keys, wrong dashboard logins), per client address and over all
// clients, in fixed windows. A client past its own limit is refused (429 + Retry-After) before its key is
// even compared, so guessing is capped; other clients are unaffected until the global bound, which caps what
// a crowd of addresses can try together. Successful requests are never counted. Pure: the clock is passed in.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace berth::http {

struct failure_limits {
  int per_client = 20;     // failures one address may make per window
  int global = 200;        // failures all addresses together may make per window
  std::int64_t window_ms = 60000;
  std::size_t max_clients = 10000;  // addresses remembered; the oldest window gives way
};

class failure_limiter {
 public:
  explicit failure_limiter(failure_limits l = {}) : l_(l) {}
  // Seconds to wait when `client` may not try now; 0 when it may.
  int retry_after_s(const std::string& client, std::int64_t now_ms);
  void record_failure(const std::string& client, std::int64_t now_ms);
  std::uint64_t refused() const;

 private:
  struct window {
    std::int64_t start_ms = 0;
    int failures = 0;
  };
  void roll(window& w, std::int64_t now_ms) const;
  int wait_s(const window& w, std::int64_t now_ms) const;

  failure_limits l_;
  mutable std::mutex m_;
  std::map<std::string, window> clients_;
  window all_;
  std::uint64_t refused_ = 0;
};

}  // namespace berth::http
