#include "server/gateway/git_route.hpp"

#include <cctype>

#include "common/base64.hpp"

namespace berth::gateway {
namespace {
bool name_ok(std::string_view s) {
  if (s.empty() || s.size() > 100 || s == "." || s == "..") return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}
}  // namespace

std::optional<git_request> parse_git_request(std::string_view method, std::string_view target) {
  if (!target.starts_with(git_prefix)) return std::nullopt;
  target.remove_prefix(git_prefix.size());
  auto slash = target.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  git_request g;
  g.owner = std::string(target.substr(0, slash));
  target.remove_prefix(slash + 1);
  slash = target.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto repo = target.substr(0, slash);
  if (repo.ends_with(".git")) repo.remove_suffix(4);  // git asks for <repo>.git/… or <repo>/… as it was given
  g.repo = std::string(repo);
  g.rest = std::string(target.substr(slash));
  if (!name_ok(g.owner) || !name_ok(g.repo)) return std::nullopt;
  if (method == "GET" && g.rest == "/info/refs?service=git-upload-pack") return g;
  if (method == "POST" && g.rest == "/git-upload-pack") return g;
  if ((method == "GET" && g.rest == "/info/refs?service=git-receive-pack") || (method == "POST" && g.rest == "/git-receive-pack")) {
    g.push = true;
    return g;
  }
  return std::nullopt;
}

bool same_repo(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string git_basic_auth(std::string_view token) {
  return "Basic " + base64_encode("x-access-token:" + std::string(token));
}

}  // namespace berth::gateway
