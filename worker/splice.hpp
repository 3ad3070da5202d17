// Copies bytes both ways between two connected sockets until both directions are closed (a half-close is
// passed on to the other side), either side fails, or `stop_fd` becomes readable. Blocking; for a thread of
// its own. Used by the worker's relay (and the tests' fault proxy in front of the engine).
#pragma once
#include <string_view>

namespace berth::worker {

void splice_both_ways(int a, int b, int stop_fd);
bool send_all(int fd, std::string_view bytes);  // false when the peer is gone

}  // namespace berth::worker
