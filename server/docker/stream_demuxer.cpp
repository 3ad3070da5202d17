#include "server/docker/stream_demuxer.hpp"

#include <algorithm>

namespace berth::docker {

bool stream_demuxer::feed(std::string_view data, const sink& on_payload) {
  while (!data.empty() && !broken_) {
    if (remaining_ == 0) {
      std::size_t take = std::min(header_.size() - header_len_, data.size());
      std::copy_n(data.begin(), take, header_.begin() + static_cast<std::ptrdiff_t>(header_len_));
      header_len_ += take;
      data.remove_prefix(take);
      if (header_len_ < header_.size()) return true;
      header_len_ = 0;
      if (header_[0] > 3) { broken_ = true; return false; }
      kind_ = static_cast<stream_kind>(header_[0]);
      remaining_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                   (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
      continue;
    }
    std::size_t take = std::min<std::size_t>(remaining_, data.size());
    on_payload(kind_, data.substr(0, take));
    remaining_ -= static_cast<std::uint32_t>(take);
    data.remove_prefix(take);
  }
  return !broken_;
}

}  // namespace berth::docker
