#include "server/docker/tar.hpp"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace berth::docker {

namespace {
constexpr std::size_t block = 512;

// Zero-padded octal in width-1 digits plus NUL, as ustar wants.
void octal(char* field, std::size_t width, unsigned long long v) {
  field[width - 1] = '\0';
  for (std::size_t i = width - 1; i-- > 0; v >>= 3) field[i] = static_cast<char>('0' + (v & 7));
}
}  // namespace

std::string tar_single_file(std::string_view name, std::string_view content, unsigned mode) {
  if (name.empty() || name.size() >= 100) throw std::invalid_argument("tar: name must be 1-99 bytes");
  char h[block] = {};
  std::memcpy(h, name.data(), name.size());
  octal(h + 100, 8, mode);
  octal(h + 108, 8, 0);  // uid
  octal(h + 116, 8, 0);  // gid
  octal(h + 124, 12, content.size());
  octal(h + 136, 12, static_cast<unsigned long long>(std::time(nullptr)));
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  octal(h + 148, 7, sum);  // six digits, NUL, then the space already there

  std::string out(h, block);
  out.append(content);
  out.append((block - content.size() % block) % block, '\0');
  out.append(2 * block, '\0');
  return out;
}

}  // namespace berth::docker
