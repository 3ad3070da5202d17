// API key check. Keys are kept only as SHA-256 digests and compared with CRYPTO_memcmp against every
// configured key (no early exit), so timing reveals neither a key nor its length.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace berth::http {

class key_matcher {
 public:
  explicit key_matcher(const std::vector<std::string>& keys);
  bool matches(std::string_view presented) const;

 private:
  std::vector<std::array<unsigned char, 32>> digests_;
};

// The key from `X-API-Key`, or from `Authorization: Bearer <key>`; empty when neither is there.
std::string presented_key(std::string_view x_api_key, std::string_view authorization);

}  // namespace berth::http
