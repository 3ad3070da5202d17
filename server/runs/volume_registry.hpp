// Named volumes this berthd already made sure of: a user's workspace volume is created once per process,
// not once per run (a volume removed behind berthd's back is recreated by Docker on mount anyway).
#pragma once
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "server/docker/docker_client.hpp"

namespace berth::runs {

class volume_registry {
 public:
  explicit volume_registry(docker::docker_client& d) : docker_(d) {}
  void ensure(const std::string& name, const std::map<std::string, std::string>& labels) {
    {
      std::lock_guard lock(m_);
      if (known_.count(name)) return;
    }
    docker_.ensure_volume(name, labels);
    std::lock_guard lock(m_);
    known_.insert(name);
  }

 private:
  docker::docker_client& docker_;
  std::mutex m_;
  std::set<std::string> known_;
};

}  // namespace berth::runs
