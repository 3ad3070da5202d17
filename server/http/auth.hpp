// API key check: the presented key is compared with every configured key (no early exit) in time that depends
// only on the presented key's length and the number of keys, so timing reveals neither a key nor its length.
// No hashing: OpenSSL's digest machinery costs ~2 MB of resident memory once initialised (issue 8, P4).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.hpp"

namespace berth::http {

using berth::same_secret;

class key_matcher {
 public:
  explicit key_matcher(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  bool matches(std::string_view presented) const;

 private:
  std::vector<std::string> keys_;
};

// The key from `X-API-Key`, or from `Authorization: Bearer <key>`; empty when neither is there.
std::string presented_key(std::string_view x_api_key, std::string_view authorization);

}  // namespace berth::http
