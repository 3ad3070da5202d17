#include "server/http/failure_limiter.hpp"

#include <algorithm>

namespace berth::http {

void failure_limiter::roll(window& w, std::int64_t now_ms) const {
  if (now_ms - w.start_ms >= l_.window_ms) w = {now_ms, 0};
}

int failure_limiter::wait_s(const window& w, std::int64_t now_ms) const {
  return static_cast<int>(std::max<std::int64_t>(1, (w.start_ms + l_.window_ms - now_ms + 999) / 1000));
}

int failure_limiter::retry_after_s(const std::string& client, std::int64_t now_ms) {
  std::lock_guard lock(m_);
  roll(all_, now_ms);
  int wait = 0;
  if (all_.failures >= l_.global) wait = wait_s(all_, now_ms);
  if (auto it = clients_.find(client); it != clients_.end()) {
    roll(it->second, now_ms);
    if (it->second.failures >= l_.per_client) wait = std::max(wait, wait_s(it->second, now_ms));
  }
  if (wait > 0) ++refused_;
  return wait;
}

void failure_limiter::record_failure(const std::string& client, std::int64_t now_ms) {
  std::lock_guard lock(m_);
  roll(all_, now_ms);
  ++all_.failures;
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    if (clients_.size() >= l_.max_clients) {
      auto oldest = std::min_element(clients_.begin(), clients_.end(),
                                     [](const auto& a, const auto& b) { return a.second.start_ms < b.second.start_ms; });
      clients_.erase(oldest);
    }
    it = clients_.emplace(client, window{now_ms, 0}).first;
  }
  roll(it->second, now_ms);
  ++it->second.failures;
}

std::uint64_t failure_limiter::refused() const {
  std::lock_guard lock(m_);
  return refused_;
}

}  // namespace berth::http
