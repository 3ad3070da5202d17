#include "server/runs/line_splitter.hpp"

#include <algorithm>

namespace berth::runs {

void line_splitter::feed(std::string_view data, std::vector<line>& out) {
  while (!data.empty()) {
    auto nl = data.find('\n');
    std::string_view part = data.substr(0, nl);
    std::size_t room = max_line_ > buf_.size() ? max_line_ - buf_.size() : 0;
    std::size_t keep = std::min(room, part.size());
    buf_.append(part.substr(0, keep));
    dropped_ += static_cast<std::int64_t>(part.size() - keep);
    if (nl == std::string_view::npos) {
      total_ += static_cast<std::int64_t>(data.size());
      return;
    }
    total_ += static_cast<std::int64_t>(nl + 1);
    committed_ = total_;
    if (!buf_.empty() && buf_.back() == '\r') buf_.pop_back();
    out.push_back({std::move(buf_), dropped_});
    buf_.clear();
    dropped_ = 0;
    data.remove_prefix(nl + 1);
  }
}

bool line_splitter::flush(line& out) {
  if (buf_.empty() && dropped_ == 0) return false;
  out = {std::move(buf_), dropped_};
  buf_.clear();
  dropped_ = 0;
  committed_ = total_;
  return true;
}

}  // namespace berth::runs
