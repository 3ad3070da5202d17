// The chunked transfer decoder behind Docker's streams: never reads past its input, never outputs more than it
// was given, and a split anywhere decodes the same as the whole.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/docker/unix_http.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  berth::docker::chunked_decoder whole, split;
  std::string a, b;
  bool ok_a = whole.feed(in, a);
  bool ok_b = split.feed(in.substr(0, size / 3), b) && split.feed(in.substr(size / 3), b);
  if (a.size() > size) std::abort();
  if (ok_a && ok_b && a != b) std::abort();
  return 0;
}
