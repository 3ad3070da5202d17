// Generic callbacks: which URLs a run's `callback_url` may name (BERTH_CALLBACK_ALLOW), so a caller cannot
// make berthd call arbitrary internal addresses. Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::chat {

struct url_parts {
  std::string scheme;  // http | https
  std::string host;    // lower-case; IPv6 in brackets
  int port = 0;        // explicit or the scheme's default
  std::string path;    // "/…" (with query), "/" when absent
  std::string origin() const { return scheme + "://" + host + ":" + std::to_string(port); }
};

// http(s) URLs only, no user info, no fragment, printable ASCII, at most runs::max_callback_url_bytes;
// nullopt otherwise.
std::optional<url_parts> parse_url(std::string_view url);

// An allow-list entry is scheme://host, scheme://host:port or scheme://host:* (any port); a host may start
// with "*." to allow its subdomains. Empty when `url` is allowed, else why not.
std::string check_callback_url(std::string_view url, const std::vector<std::string>& allow);

}  // namespace berth::chat
