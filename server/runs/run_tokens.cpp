#include "server/runs/run_tokens.hpp"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace berth::runs {
namespace {
std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}
}  // namespace

std::string run_token(std::string_view secret, std::string_view run) {
  unsigned char mac[32];
  unsigned int len = sizeof mac;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(run.data()),
       run.size(), mac, &len);
  return "brt-" + hex(mac, len);
}

std::string new_gateway_secret() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no randomness for the gateway secret");
  return hex(b, sizeof b);
}

std::string git_repo_of_trigger(std::string_view trigger) {
  if (!trigger.starts_with("github:")) return {};
  trigger.remove_prefix(7);
  auto repo = trigger.substr(0, trigger.rfind('#'));
  auto slash = repo.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == repo.size()) return {};
  return std::string(repo);
}

std::uint64_t token_registry::open(const std::string& run, std::string user, std::string git_repo) {
  auto t = token_of(run);
  std::lock_guard lock(m_);
  runs_[t] = {{run, std::move(user), std::move(git_repo)}, ++openings_};
  return openings_;
}

void token_registry::close(const std::string& run, std::uint64_t opening) {
  auto t = token_of(run);
  std::lock_guard lock(m_);
  if (auto it = runs_.find(t); it != runs_.end() && it->second.opening == opening) runs_.erase(it);
}

std::optional<token_grant> token_registry::grant_of(std::string_view token) const {
  std::lock_guard lock(m_);
  auto it = runs_.find(std::string(token));
  if (it == runs_.end()) return std::nullopt;
  return it->second.grant;
}

std::optional<std::string> token_registry::run_of(std::string_view token) const {
  auto g = grant_of(token);
  if (!g) return std::nullopt;
  return g->run;
}

std::size_t token_registry::open_count() const {
  std::lock_guard lock(m_);
  return runs_.size();
}

}  // namespace berth::runs
