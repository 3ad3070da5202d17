#pragma once
#include <stdexcept>
#include <string>

namespace berth::docker {

// Any failure talking to the engine. status 0: the engine did not answer (socket down, timeout).
struct docker_error : std::runtime_error {
  int status;
  docker_error(int s, const std::string& what) : std::runtime_error(what), status(s) {}
  bool unreachable() const { return status == 0; }
};

}  // namespace berth::docker
