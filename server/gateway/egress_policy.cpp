#include "server/gateway/egress_policy.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace berth::gateway {
namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct entry {
  std::string host;  // may start with "*."
  unsigned short port = 0;
};

std::optional<entry> parse_entry(std::string_view e) {
  auto t = parse_connect_target(e);
  if (t) return entry{t->host, t->port};
  return std::nullopt;
}

bool name_matches(const std::string& pattern, const std::string& host) {
  if (pattern.starts_with("*.")) {
    auto suffix = pattern.substr(1);  // ".domain"
    return host.size() > suffix.size() && host.ends_with(suffix);
  }
  return pattern == host;
}
}  // namespace

std::string egress_target::text() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<egress_target> parse_connect_target(std::string_view a) {
  if (a.empty() || a.size() > 300) return std::nullopt;
  std::string_view host, port;
  if (a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':') return std::nullopt;
    host = a.substr(1, close - 1);
    port = a.substr(close + 2);
  } else {
    auto colon = a.rfind(':');
    if (colon == std::string_view::npos || a.find(':') != colon) return std::nullopt;
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' && c != '*' && c != '_') return std::nullopt;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) return std::nullopt;
  return egress_target{lower(host), static_cast<unsigned short>(v)};
}

bool egress_listed(const std::vector<std::string>& allow, const egress_target& t) {
  if (t.host.find('*') != std::string::npos) return false;
  return std::any_of(allow.begin(), allow.end(), [&](const std::string& e) {
    auto p = parse_entry(e);
    return p && p->port == t.port && name_matches(p->host, t.host);
  });
}

bool is_special_address(const boost::asio::ip::address& a) {
  if (a.is_unspecified() || a.is_loopback() || a.is_multicast()) return true;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
           (b[0] == 169 && b[1] == 254) ||                  // link-local, incl. 169.254.169.254 metadata
           (b[0] == 100 && (b[1] & 0xc0) == 64) ||         // carrier-grade NAT
           b[0] == 0 || b[0] >= 224;
  }
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return is_special_address(v6.to_v4());
  auto b = v6.to_bytes();
  return v6.is_link_local() || v6.is_site_local() || (b[0] & 0xfe) == 0xfc ||  // unique local fc00::/7
         (b[0] == 0xfd && b[1] == 0x00 && b[2] == 0x0e && b[3] == 0xc2);      // fd00:ec2::254 metadata
}

std::vector<boost::asio::ip::address> dialable(const std::vector<std::string>& allow, const egress_target& t,
                                               const std::vector<boost::asio::ip::address>& resolved, std::string& why) {
  if (!egress_listed(allow, t)) {
    why = t.text() + " is not in BERTH_EGRESS_ALLOW";
    return {};
  }
  std::vector<boost::asio::ip::address> out;
  for (const auto& a : resolved) {
    if (!is_special_address(a)) {
      out.push_back(a);
      continue;
    }
    // A special address only when an entry names it literally, with this port.
    egress_target literal{a.to_string(), t.port};
    bool named = std::any_of(allow.begin(), allow.end(), [&](const std::string& e) {
      auto p = parse_entry(e);
      return p && p->port == t.port && p->host == literal.host;
    });
    if (named && t.host == literal.host) out.push_back(a);
  }
  if (out.empty()) why = t.text() + " resolves only to internal addresses (loopback, private, link-local or metadata) "
                                  "that BERTH_EGRESS_ALLOW does not name literally";
  return out;
}

}  // namespace berth::gateway
