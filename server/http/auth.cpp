#include "server/http/auth.hpp"

namespace berth::http {

bool same_secret(std::string_view secret, std::string_view presented) {
  if (secret.empty() || presented.empty()) return false;
  // Walks the presented bytes only, cycling over the secret; the length difference is folded in.
  volatile std::size_t diff = secret.size() ^ presented.size();
  for (std::size_t i = 0; i < presented.size(); ++i)
    diff = diff | (static_cast<unsigned char>(presented[i]) ^ static_cast<unsigned char>(secret[i % secret.size()]));
  return diff == 0;
}

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
