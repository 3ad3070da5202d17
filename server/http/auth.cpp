#include "server/http/auth.hpp"

namespace berth::http {

bool key_matcher::matches(std::string_view presented) const {
  bool ok = false;
  for (const auto& k : keys_) ok = same_secret(k, presented) || ok;  // every key, no early exit
  return ok;
}

std::string presented_key(std::string_view x_api_key, std::string_view authorization) {
  if (!x_api_key.empty()) return std::string(x_api_key);
  constexpr std::string_view bearer = "Bearer ";
  if (authorization.size() > bearer.size() && authorization.substr(0, bearer.size()) == bearer)
    return std::string(authorization.substr(bearer.size()));
  return {};
}

}  // namespace berth::http
