#include "server/http/dashboard_auth.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "common/json_bounded.hpp"
#include "common/strings.hpp"

#include <nlohmann/json.hpp>
#include <openssl/sha.h>

namespace berth::http {

namespace {
// The store keeps a hash of the token: a copy of the table logs nobody in.
std::string token_hash(std::string_view token) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> d{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d.data());
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (auto b : d) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::optional<std::string> users_json(const std::shared_ptr<const std::vector<std::string>>& users) {
  if (!users) return std::nullopt;
  return nlohmann::json(*users).dump();
}

std::shared_ptr<const std::vector<std::string>> users_of(const std::optional<std::string>& j) {
  if (!j) return nullptr;
  auto v = parse_json(*j);
  std::vector<std::string> out;
  if (v.is_array())
    for (const auto& u : v)
      if (u.is_string()) out.push_back(u.get<std::string>());
  return std::make_shared<const std::vector<std::string>>(std::move(out));
}
}  // namespace

void session_table::trim_locked(std::int64_t now_ms) {
  std::erase_if(sessions_, [now_ms](const auto& kv) { return kv.second.s.expires_ms <= now_ms; });
  while (sessions_.size() >= max_ && !sessions_.empty()) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.s.expires_ms < b.second.s.expires_ms;
    });
    sessions_.erase(oldest);
  }
}

std::pair<std::string, dashboard_session> session_table::create(std::int64_t now_ms, std::int64_t ttl_ms,
                                                                std::shared_ptr<const std::vector<std::string>> users) {
  std::string token = random_token();
  dashboard_session s{random_token(), now_ms + ttl_ms, std::move(users)};
  if (db_) db_->put_login(token_hash(token), {.csrf = s.csrf, .users = users_json(s.users), .expires_at = s.expires_ms}, now_ms, max_);
  std::lock_guard lock(m_);
  trim_locked(now_ms);
  sessions_.emplace(token, cached{s, now_ms});
  return {token, s};
}

std::optional<dashboard_session> session_table::find_cached(std::string_view token, std::int64_t now_ms) {
  if (token.empty()) return std::nullopt;
  std::lock_guard lock(m_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.s.expires_ms <= now_ms) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.s;
}

std::optional<dashboard_session> session_table::find(std::string_view token, std::int64_t now_ms) {
  if (token.empty()) return std::nullopt;
  {
    std::lock_guard lock(m_);
    auto it = sessions_.find(token);
    if (it != sessions_.end() && it->second.s.expires_ms <= now_ms) {
      sessions_.erase(it);
      return std::nullopt;
    }
    if (it != sessions_.end() && (!db_ || now_ms - it->second.checked_ms < login_recheck_ms)) return it->second.s;
    if (!db_) return std::nullopt;
  }
  auto stored = db_->find_login(token_hash(token), now_ms);  // logged in elsewhere, or out
  std::lock_guard lock(m_);
  if (!stored) {
    if (auto it = sessions_.find(token); it != sessions_.end()) sessions_.erase(it);
    return std::nullopt;
  }
  dashboard_session s{stored->csrf, stored->expires_at, users_of(stored->users)};
  trim_locked(now_ms);
  sessions_.insert_or_assign(std::string(token), cached{s, now_ms});
  return s;
}

void session_table::remove(std::string_view token) {
  if (db_) db_->remove_login(token_hash(token));
  std::lock_guard lock(m_);
  if (auto it = sessions_.find(token); it != sessions_.end()) sessions_.erase(it);
}

std::size_t session_table::size() {
  std::lock_guard lock(m_);
  return sessions_.size();
}

std::string random_token() {
  std::array<unsigned char, 32> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    auto n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<std::size_t>(n);
  }
  return to_hex({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    auto pair = trim(header.substr(0, semi));
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) return std::string(trim(pair.substr(eq + 1)));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

std::string session_cookie(std::string_view token, std::int64_t max_age_s, bool secure) {
  std::string c = std::string(session_cookie_name) + "=" + std::string(token) +
                  "; Path=/dashboard; Max-Age=" + std::to_string(max_age_s) + "; HttpOnly; SameSite=Strict";
  if (secure) c += "; Secure";
  return c;
}

std::string clearing_cookie(bool secure) { return session_cookie("", 0, secure); }

namespace {
// "https://example.org:8443" → "example.org"; "[::1]:3000" → "[::1]".
std::string_view host_part(std::string_view v) {
  if (auto scheme = v.find("://"); scheme != std::string_view::npos) v.remove_prefix(scheme + 3);
  v = v.substr(0, v.find('/'));
  if (!v.empty() && v.front() == '[') return v.substr(0, v.find(']') + 1);
  return v.substr(0, v.find(':'));
}

// The explicit port of "host:port" / "scheme://host:port"; for an origin without one, its scheme's default.
std::string_view port_part(std::string_view v, bool is_origin) {
  std::string_view scheme;
  if (auto s = v.find("://"); s != std::string_view::npos) {
    scheme = v.substr(0, s);
    v.remove_prefix(s + 3);
  }
  v = v.substr(0, v.find('/'));
  auto host = host_part(v);
  if (v.size() > host.size() + 1 && v[host.size()] == ':') return v.substr(host.size() + 1);
  if (!is_origin) return {};
  return scheme == "https" ? "443" : "80";
}
}  // namespace

bool same_site_request(std::string_view origin, std::string_view host, std::string_view sec_fetch_site) {
  if (sec_fetch_site == "cross-site" || sec_fetch_site == "same-site") return false;
  if (origin.empty()) return true;  // not a browser's cross-origin request (browsers send Origin on those)
  if (origin == "null") return sec_fetch_site == "same-origin";  // privacy modes hide the origin
  if (ascii_lower(host_part(origin)) != ascii_lower(host_part(host))) return false;
  // Another port is another origin. A Host without a port (a proxy that forwards only $host) says nothing of it.
  auto host_port = port_part(host, false);
  return host_port.empty() || host_port == port_part(origin, true);
}

}  // namespace berth::http
