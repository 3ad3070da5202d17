#include "common/strings.hpp"

#include <charconv>
#include <chrono>
#include <ctime>
#include <limits>

namespace berth {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_time_ms(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::optional<std::int64_t> parse_time_ms(std::string_view s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos) return parse_int(s);
  if (!s.empty() && s.back() == 'Z') s.remove_suffix(1);
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  // YYYY-MM-DDTHH:MM[:SS[.fff]]
  if (s.size() < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':') return std::nullopt;
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2);
  std::optional<int> sec = 0, frac = 0;
  if (s.size() > 16) {
    if (s[16] != ':') return std::nullopt;
    sec = num(17, 2);
    if (s.size() > 19) {
      if (s[19] != '.' || s.size() != 23) return std::nullopt;
      frac = num(20, 3);
    } else if (s.size() != 19) return std::nullopt;
  }
  if (!y || !mo || !d || !h || !mi || !sec || !frac) return std::nullopt;
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 || *sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *y - 1900;
  tm.tm_mon = *mo - 1;
  tm.tm_mday = *d;
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *sec;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + *frac;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    auto item = trim(s.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim(s);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  s = trim(s);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> parse_bytes(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  std::int64_t mult = 1;
  char last = s.back();
  if (last == 'b' || last == 'B') { s.remove_suffix(1); if (s.empty()) return std::nullopt; last = s.back(); }
  switch (last) {
    case 'k': case 'K': mult = 1LL << 10; break;
    case 'm': case 'M': mult = 1LL << 20; break;
    case 'g': case 'G': mult = 1LL << 30; break;
    default: break;
  }
  if (mult != 1) s.remove_suffix(1);
  auto v = parse_int(s);
  if (!v || *v < 0 || *v > std::numeric_limits<std::int64_t>::max() / mult) return std::nullopt;
  return *v * mult;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

bool same_secret(std::string_view secret, std::string_view presented) {
  if (secret.empty() || presented.empty()) return false;
  // Walks the presented bytes only, cycling over the secret; the length difference is folded in.
  volatile std::size_t diff = secret.size() ^ presented.size();
  for (std::size_t i = 0; i < presented.size(); ++i)
    diff = diff | (static_cast<unsigned char>(presented[i]) ^ static_cast<unsigned char>(secret[i % secret.size()]));
  return diff == 0;
}

std::string redact_url_password(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace berth
