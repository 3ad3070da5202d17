#pragma once
#include <string>
#include <vector>

#include "server/docker/docker_client.hpp"

namespace berth::test {

inline docker::docker_client& engine() {
  static docker::docker_client c("/var/run/docker.sock");
  return c;
}

inline bool is_netns_holder(const docker::container_summary& c) {
  auto it = c.labels.find("berth.netns");
  return it != c.labels.end() && it->second == "holder";
}

// Worker containers (running or not) that belong to one berthd instance: not its network namespace holders
// (server/runs/netns_pool.hpp), which an idle berthd keeps ready.
inline std::vector<docker::container_summary> worker_containers(const std::string& instance,
                                                                docker::docker_client& e = engine()) {
  auto all = e.list("berth.instance=" + instance);
  std::erase_if(all, is_netns_holder);
  return all;
}

inline std::vector<docker::container_summary> netns_holders(const std::string& instance) {
  auto all = engine().list("berth.instance=" + instance);
  std::erase_if(all, [](const auto& c) { return !is_netns_holder(c); });
  return all;
}

}  // namespace berth::test

#include <chrono>
#include <functional>
#include <thread>

namespace berth::test {

// Polls `pred` until it holds or `limit` passes; returns whether it held. A condition wait, not a sleep:
// it returns as soon as the state is reached.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

inline bool no_workers_left(const std::string& instance) {
  return eventually([&] { return worker_containers(instance).empty(); });
}

// A user's running warm spares of one instance.
inline std::vector<docker::container_summary> spares_of(const std::string& instance, const std::string& user) {
  std::vector<docker::container_summary> out;
  for (const auto& c : worker_containers(instance))
    if (c.labels.count("berth.spare") && c.labels.at("berth.spare") == user && c.state == "running" &&
        c.name.rfind("berth-spare-", 0) == 0)
      out.push_back(c);
  return out;
}

// The id of the user's spare once there is one ("" after 20 s).
inline std::string wait_for_spare(const std::string& instance, const std::string& user) {
  std::string id;
  eventually([&] {
    auto s = spares_of(instance, user);
    if (!s.empty()) id = s.front().id;
    return !id.empty();
  }, std::chrono::seconds(20));
  return id;
}

// Names of the volumes berthd made for `user` (workspace and instructions, whatever the instance).
inline std::vector<std::string> user_volumes(const std::string& user) { return engine().list_volumes("berth.user=" + user); }

// Removes them; berthd removes a finished run's container just after its `done`, and a volume in use waits for that.
inline void remove_user_volumes(const std::string& user) {
  for (const auto& v : user_volumes(user))
    eventually([&] {
      try {
        engine().remove_volume(v);
        return true;
      } catch (const std::exception&) {
        return false;
      }
    });
}

}  // namespace berth::test
