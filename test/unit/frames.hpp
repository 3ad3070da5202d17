// Builds Docker multiplexed-stream frames for tests.
#pragma once
#include <cstdint>
#include <string>

inline std::string frame(std::uint8_t type, const std::string& payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(type);
  auto n = static_cast<std::uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  return f + payload;
}
