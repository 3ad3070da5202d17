// API key check: the presented key is compared with every configured key (no early exit) in time that depends
// only on the presented key's length and the number of keys, so timing reveals neither a key nor its length.
// No hashing: OpenSSL's digest machinery costs ~2 MB of resident memory once initialised (issue 8, P4).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.hpp"

namespace berth::http {

using berth::same_secret;

// The users a key (or a dashboard login made with it) may see and act for; null: every user.
using user_scope = std::shared_ptr<const std::vector<std::string>>;

// True when `users` (names, or prefixes ending in '*') covers `user`; a null scope covers everyone.
bool scope_allows(const user_scope& users, std::string_view user);

class key_matcher {
 public:
  explicit key_matcher(std::vector<std::string> keys, const std::map<std::string, std::vector<std::string>>& key_users = {});
  bool matches(std::string_view presented) const { return match(presented).has_value(); }
  // The matching key's scope (null: all users), or nullopt when no key matches.
  std::optional<user_scope> match(std::string_view presented) const;

 private:
  std::vector<std::string> keys_;
  std::vector<user_scope> scopes_;  // per key
};

// The key from `X-API-Key`, or from `Authorization: Bearer <key>`; empty when neither is there.
std::string presented_key(std::string_view x_api_key, std::string_view authorization);

}  // namespace berth::http
