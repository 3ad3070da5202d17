#include "worker/emit.hpp"

#include <unistd.h>

#include <cerrno>

namespace berth::worker {
namespace {
void write_all(int fd, std::string s) {
  std::string_view v = s;
  while (!v.empty()) {
    ssize_t n = ::write(fd, v.data(), v.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    v.remove_prefix(static_cast<std::size_t>(n));
  }
}
}  // namespace

void emit(const nlohmann::json& event) {
  write_all(1, event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void emit_error(const std::string& kind, const std::string& message) {
  emit({{"type", "error"}, {"kind", kind}, {"message", message}});
}

void diag(const std::string& line) { write_all(2, line + "\n"); }

}  // namespace berth::worker
