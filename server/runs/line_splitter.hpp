// Splits one output stream into lines with a bound on line length: past `max_line` bytes the rest of the
// line is dropped (and counted) until its newline, so memory stays bounded whatever a worker prints. Lines
// are only released at their newline, which keeps `committed()` — the stream offset after the last complete
// line — the exact place to resume from after a restart. Pure.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::runs {

struct line {
  std::string text;           // without the newline
  std::int64_t dropped = 0;   // bytes cut off past the limit
};

class line_splitter {
 public:
  explicit line_splitter(std::size_t max_line, std::int64_t start_offset = 0)
      : max_line_(max_line), total_(start_offset), committed_(start_offset) {}
  void feed(std::string_view data, std::vector<line>& out);
  // At end of stream: the unterminated tail, if any, as a last line.
  bool flush(line& out);
  std::int64_t committed() const { return committed_; }
  std::int64_t total() const { return total_; }

 private:
  std::size_t max_line_;
  std::string buf_;
  std::int64_t dropped_ = 0;
  std::int64_t total_;
  std::int64_t committed_;
};

}  // namespace berth::runs
