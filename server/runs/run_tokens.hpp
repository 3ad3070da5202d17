// Per-run gateway tokens. A worker's CLI uses its run's token as its API key; the gateway swaps it for the
// real credential. A token is HMAC-SHA256(gateway secret, run id) in hex: 256 bits nobody can derive without
// the secret (kept in the store, never handed out), and the same after a restart, so a re-attached worker
// keeps working with the token it was given. It is accepted only while its run is open here (starting or
// running, followed by this berthd).
#pragma once
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace berth::runs {

std::string run_token(std::string_view secret, std::string_view run);
std::string new_gateway_secret();  // 32 random bytes, hex

class token_registry {
 public:
  explicit token_registry(std::string secret) : secret_(std::move(secret)) {}
  std::string token_of(std::string_view run) const { return run_token(secret_, run); }
  void open(const std::string& run);   // its token is accepted from now on
  void close(const std::string& run);  // and no longer
  std::optional<std::string> run_of(std::string_view token) const;
  std::size_t open_count() const;

 private:
  std::string secret_;
  mutable std::mutex m_;
  std::unordered_map<std::string, std::string> runs_;  // token → run
};

}  // namespace berth::runs
