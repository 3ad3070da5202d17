// A worker's raw output through the whole pump (demux, lines, translation, redaction, limits): never throws,
// and a secret never survives into an event, however the agent encodes it in JSON.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/event.hpp"
#include "server/runs/output_pump.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string secret = "sk-ant-fuzz-0123456789";
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Frame the input as stdout so the line and JSON paths get the bytes (raw headers are the demuxer's fuzzer).
  std::string framed;
  framed += '\1';
  framed += std::string(3, '\0');
  for (int shift = 24; shift >= 0; shift -= 8) framed += static_cast<char>((in.size() >> shift) & 0xff);
  framed += in;
  berth::store::run_record r;
  berth::runs::output_pump p(1 << 16, 4096, r, {secret});
  std::vector<berth::runs::draft> out;
  p.feed(framed, out);
  p.finish(out);
  for (const auto& d : out) {
    auto text = berth::event_data("R", d.fields);
    if (text.find(secret) != std::string::npos) std::abort();
  }
  return 0;
}
