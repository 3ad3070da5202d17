// Dashboard logins. A login trades an API key for an opaque random session token, kept in an HttpOnly,
// SameSite=Strict cookie scoped to /dashboard, so no key ever sits in a URL, in the page or in JS. Each
// session has its own CSRF token that every state-changing request must echo (X-CSRF-Token header or the
// form field `csrf`); the page learns it from the HTML berthd renders for the session. Sessions are bounded
// and expiring, kept in the store (under a hash of their token), so a login works on every instance behind the
// load balancer and survives a restart; each instance caches what it has seen for a moment
// (login_recheck_ms), so a logout elsewhere reaches it within that time.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "server/store/store.hpp"

namespace berth::http {

inline constexpr std::string_view session_cookie_name = "berth_session";
inline constexpr std::size_t max_dashboard_sessions = 1024;
inline constexpr std::int64_t login_recheck_ms = 2000;

struct dashboard_session {
  std::string csrf;
  std::int64_t expires_ms = 0;
  std::shared_ptr<const std::vector<std::string>> users;  // the login key's scope (null: every user)
};

class session_table {
 public:
  // Without a store (unit tests) sessions live in this process only.
  explicit session_table(store::store* db = nullptr, std::size_t max_sessions = max_dashboard_sessions)
      : db_(db), max_(max_sessions) {}
  // A new session valid for `ttl_ms`; when the table is full the session closest to expiry gives way.
  // Blocking (store): off the I/O threads.
  std::pair<std::string, dashboard_session> create(std::int64_t now_ms, std::int64_t ttl_ms,
                                                   std::shared_ptr<const std::vector<std::string>> users = nullptr);
  // Blocking (store) when the session is not cached here or was checked longer than login_recheck_ms ago.
  std::optional<dashboard_session> find(std::string_view token, std::int64_t now_ms);
  // What this instance knows without asking the store (for checks on I/O threads).
  std::optional<dashboard_session> find_cached(std::string_view token, std::int64_t now_ms);
  void remove(std::string_view token);  // blocking (store)
  std::size_t size();

 private:
  struct cached {
    dashboard_session s;
    std::int64_t checked_ms = 0;
  };
  void trim_locked(std::int64_t now_ms);
  store::store* db_;
  std::mutex m_;
  std::map<std::string, cached, std::less<>> sessions_;
  std::size_t max_;
};

// 32 bytes from the kernel's CSPRNG (getrandom), hex: 64 characters.
std::string random_token();
// The value of cookie `name` in a Cookie header; empty when absent.
std::string cookie_value(std::string_view cookie_header, std::string_view name);
// Set-Cookie values that start and end a session. Secure when the client reached us over TLS.
std::string session_cookie(std::string_view token, std::int64_t max_age_s, bool secure);
std::string clearing_cookie(bool secure);
// False when the request names another site as its origin (Origin / Sec-Fetch-Site): cross-site form
// posts are refused before anything else, including the login form.
bool same_site_request(std::string_view origin, std::string_view host, std::string_view sec_fetch_site);

}  // namespace berth::http
