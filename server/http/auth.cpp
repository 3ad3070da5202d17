#include "server/http/auth.hpp"

namespace berth::http {

bool scope_allows(const user_scope& users, std::string_view user) {
  if (!users) return true;
  for (const auto& p : *users) {
    if (!p.empty() && p.back() == '*' ? user.starts_with(std::string_view(p).substr(0, p.size() - 1)) : user == p)
      return true;
  }
  return false;
}

key_matcher::key_matcher(std::vector<std::string> keys, const std::map<std::string, std::vector<std::string>>& key_users)
    : keys_(std::move(keys)) {
  for (const auto& k : keys_) {
    auto it = key_users.find(k);
    scopes_.push_back(it == key_users.end() ? nullptr : std::make_shared<const std::vector<std::string>>(it->second));
  }
}

std::optional<user_scope> key_matcher::match(std::string_view presented) const {
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < keys_.size(); ++i)  // every key, no early exit
    if (same_secret(keys_[i], presented) && !found) found = i;
  if (!found) return std::nullopt;
  return scopes_[*found];
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
