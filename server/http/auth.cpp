#include "server/http/auth.hpp"

namespace berth::http {

bool key_matcher::matches(std::string_view presented) const {
  bool ok = false;
  for (const auto& k : keys_) ok = same_secret(k, presented) || ok;  // every key, no early exit
  return ok;
}

std::string presented_key(std::string_view x_api_key, std::string_view authorization) {
  if (!x_api_key.empty()) return std::string(x_api_key);
  // RFC 7235: the scheme name is case-insensitive; one or more spaces follow it.
  constexpr std::string_view bearer = "bearer";
  if (authorization.size() <= bearer.size() || ascii_lower(authorization.substr(0, bearer.size())) != bearer ||
      authorization[bearer.size()] != ' ')
    return {};
  auto token = trim(authorization.substr(bearer.size()));
  return std::string(token);
}

}  // namespace berth::http
