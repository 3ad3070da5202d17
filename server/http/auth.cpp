#include "server/http/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace berth::http {
namespace {
std::array<unsigned char, 32> digest(std::string_view s) {
  std::array<unsigned char, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}
}  // namespace

key_matcher::key_matcher(const std::vector<std::string>& keys) {
  for (const auto& k : keys) digests_.push_back(digest(k));
}

bool key_matcher::matches(std::string_view presented) const {
  if (presented.empty()) return false;
  auto d = digest(presented);
  int ok = 0;
  for (const auto& k : digests_) ok |= CRYPTO_memcmp(d.data(), k.data(), d.size()) == 0 ? 1 : 0;
  return ok != 0;
}

std::string presented_key(std::string_view x_api_key, std::string_view authorization) {
  if (!x_api_key.empty()) return std::string(x_api_key);
  constexpr std::string_view bearer = "Bearer ";
  if (authorization.size() > bearer.size() && authorization.substr(0, bearer.size()) == bearer)
    return std::string(authorization.substr(bearer.size()));
  return {};
}

}  // namespace berth::http
