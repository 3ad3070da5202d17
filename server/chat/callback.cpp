#include "server/chat/callback.hpp"

#include <algorithm>

#include "common/strings.hpp"
#include "server/runs/run_request.hpp"

namespace berth::chat {
namespace {
// "host[:port]" → host and port text (port empty when absent).
bool split_authority(std::string_view a, std::string& host, std::string& port) {
  if (a.empty()) return false;
  if (a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos) return false;
    host = ascii_lower(a.substr(0, close + 1));
    auto rest = a.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    port = rest.empty() ? "" : std::string(rest.substr(1));
  } else {
    auto colon = a.rfind(':');
    host = ascii_lower(a.substr(0, colon));
    port = colon == std::string_view::npos ? "" : std::string(a.substr(colon + 1));
  }
  return !host.empty();
}
}  // namespace

std::optional<url_parts> parse_url(std::string_view url) {
  if (url.size() > runs::max_callback_url_bytes) return std::nullopt;
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return std::nullopt;
  url_parts u;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  u.scheme = ascii_lower(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  auto rest = url.substr(sep + 3);
  auto slash = rest.find_first_of("/?#");
  auto authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no credentials in URLs
  if (slash != std::string_view::npos && rest.find('#') != std::string_view::npos) return std::nullopt;
  std::string port;
  if (!split_authority(authority, u.host, port)) return std::nullopt;
  if (port.empty()) u.port = u.scheme == "https" ? 443 : 80;
  else {
    auto p = parse_int(port);
    if (!p || *p < 1 || *p > 65535) return std::nullopt;
    u.port = static_cast<int>(*p);
  }
  u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.path.front() == '?') u.path = "/" + u.path;
  return u;
}

std::string check_callback_url(std::string_view url, const std::vector<std::string>& allow) {
  auto u = parse_url(url);
  if (!u) return "callback_url must be an http(s) URL without credentials or fragment, at most 2048 bytes";
  if (allow.empty()) return "callbacks are off: the operator allows no callback targets (BERTH_CALLBACK_ALLOW)";
  for (const auto& entry : allow) {
    auto sep = entry.find("://");
    if (sep == std::string::npos || ascii_lower(entry.substr(0, sep)) != u->scheme) continue;
    std::string_view authority(entry);
    authority.remove_prefix(sep + 3);
    if (auto slash = authority.find('/'); slash != std::string_view::npos) authority = authority.substr(0, slash);
    std::string host, port;
    if (!split_authority(authority, host, port)) continue;
    bool host_ok = host == u->host ||
                   (host.starts_with("*.") && u->host.size() > host.size() - 1 && u->host.ends_with(host.substr(1)));
    int want = port.empty() ? (u->scheme == "https" ? 443 : 80) : 0;
    if (!port.empty() && port != "*") {
      auto p = parse_int(port);
      want = p ? static_cast<int>(*p) : -1;
    }
    bool port_ok = port == "*" || want == u->port;
    if (host_ok && port_ok) return {};
  }
  return "callback_url " + u->origin() + " is not in BERTH_CALLBACK_ALLOW";
}

}  // namespace berth::chat
