#include <chrono>
#include <thread>

#include "worker/emit.hpp"
#include "worker/engines.hpp"

namespace berth::worker {

int run_echo(const task& t) {
  int delay_ms = t.options.value("delay_ms", 0);
  emit({{"type", "started"}, {"engine", "echo"}});
  std::string all;
  int words = 0;
  std::size_t i = 0;
  const std::string& m = t.message;
  while (i < m.size()) {
    // A word with the whitespace before it, so the concatenation of the deltas reads like the message.
    std::size_t start = i;
    while (i < m.size() && std::isspace(static_cast<unsigned char>(m[i]))) ++i;
    while (i < m.size() && !std::isspace(static_cast<unsigned char>(m[i]))) ++i;
    std::string piece = m.substr(start, i - start);
    if (piece.find_first_not_of(" \t\r\n") == std::string::npos) break;
    if (words++ > 0 && delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    all += piece;
    emit({{"type", "text"}, {"text", piece}});
  }
  emit({{"type", "result"}, {"text", all}, {"turns", 1}, {"is_error", false}});
  return 0;
}

}  // namespace berth::worker
