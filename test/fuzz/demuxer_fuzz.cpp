// Docker's multiplexed stream: arbitrary bytes, fed in arbitrary pieces. Invariant: the payload handed out
// never exceeds the input, and feeding it whole or in two halves gives the same pieces.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/docker/stream_demuxer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto run = [&](std::size_t split) {
    berth::docker::stream_demuxer d;
    std::string got;  // payload bytes, with the stream's kind written whenever it changes
    int last = -1;
    auto sink = [&](berth::docker::stream_kind k, std::string_view p) {
      if (p.empty()) return;
      if (static_cast<int>(k) != last) got += static_cast<char>(k);
      last = static_cast<int>(k);
      got += p;
    };
    bool ok = d.feed(in.substr(0, split), sink) && d.feed(in.substr(split), sink);
    return std::pair{ok, got};
  };
  auto whole = run(size);
  auto halves = run(size / 2);
  if (whole.first && halves.first && whole.second != halves.second) std::abort();
  return 0;
}
