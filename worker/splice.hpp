// Socket plumbing shared by the worker's relay and the tests' engine fault proxy.
// splice_both_ways copies bytes both ways between two connected sockets until both directions are closed (a half-close is
// passed on to the other side), either side fails, or `stop_fd` becomes readable. Blocking; for a thread of
// its own. Used by the worker's relay (and the tests' fault proxy in front of the engine).
#pragma once
#include <functional>
#include <string_view>

namespace berth::worker {

void splice_both_ways(int a, int b, int stop_fd);
// Accepts connections on `listen_fd` until `stop_fd` becomes readable, handing each to `on_connection`.
void accept_until_stopped(int listen_fd, int stop_fd, const std::function<void(int)>& on_connection);
bool send_all(int fd, std::string_view bytes);  // false when the peer is gone

}  // namespace berth::worker
