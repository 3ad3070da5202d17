// Docker's multiplexed stream (attach/logs without a TTY): frames of an 8-byte header
// [type, 0, 0, 0, size big-endian u32] followed by `size` bytes. Types: 0 stdin, 1 stdout, 2 stderr,
// 3 system error (moby pkg/stdcopy). Pure: bytes in, payload pieces out, headers may be split across feeds.
// Payload is passed on as it arrives (a 64 KiB frame is not buffered whole) so output streams at once.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string_view>

namespace berth::docker {

enum class stream_kind : std::uint8_t { in = 0, out = 1, err = 2, system = 3 };

class stream_demuxer {
 public:
  using sink = std::function<void(stream_kind, std::string_view)>;
  // Returns false once a header with an unknown type was seen (the stream is corrupt; stop reading).
  bool feed(std::string_view data, const sink& on_payload);
  bool mid_frame() const { return header_len_ != 0 || remaining_ != 0; }

 private:
  std::array<unsigned char, 8> header_{};
  std::size_t header_len_ = 0;
  std::uint32_t remaining_ = 0;
  stream_kind kind_ = stream_kind::out;
  bool broken_ = false;
};

}  // namespace berth::docker
