#include "common/ids.hpp"

#include <random>
#include <string_view>

#include "common/strings.hpp"

namespace berth {
namespace {
constexpr std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
}

std::string make_run_id(std::int64_t ms, std::uint64_t rand_hi, std::uint64_t rand_lo) {
  // 48 bits of time → 10 chars, 80 bits of randomness → 16 chars.
  std::string out(26, '0');
  auto t = static_cast<std::uint64_t>(ms);
  for (int i = 9; i >= 0; --i) { out[static_cast<std::size_t>(i)] = alphabet[t & 31]; t >>= 5; }
  std::uint64_t hi = rand_hi & 0xFFFFFFFFFFull;  // 40 bits
  std::uint64_t lo = rand_lo & 0xFFFFFFFFFFull;  // 40 bits
  for (int i = 17; i >= 10; --i) { out[static_cast<std::size_t>(i)] = alphabet[hi & 31]; hi >>= 5; }
  for (int i = 25; i >= 18; --i) { out[static_cast<std::size_t>(i)] = alphabet[lo & 31]; lo >>= 5; }
  return out;
}

std::string new_run_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return make_run_id(now_ms(), rng(), rng());
}

bool is_valid_run_id(std::string_view id) {
  if (id.size() != 26) return false;
  for (char c : id)
    if (alphabet.find(c) == std::string_view::npos) return false;
  return true;
}

}  // namespace berth
