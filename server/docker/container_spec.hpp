// What a worker container looks like, and the pure translation of it into Docker's create body.
// Hardening is the default, not an option: non-root, no capabilities, no new privileges, read-only root,
// bounded memory (= swap), CPU, pids and open files, an init process, rotated logs, no socket, no privilege.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::docker {

struct container_spec {
  std::string image;
  std::map<std::string, std::string> labels;
  std::vector<std::string> env;  // never secrets: Config.Env shows in `docker inspect`
  std::string network = "none";
  std::string user = "1000:1000";
  std::string home = "/home/worker";
  std::string workspace_volume;     // empty: no workspace mount
  std::string instructions_volume;  // empty: none; else mounted read-only at instructions_target
  std::string instructions_target = "/etc/berth/instructions";
  std::string set_volume;  // empty: none; else the run's skills, agents and MCP config, read-only at set_target
  std::string set_target = "/etc/berth/set";
  std::string gateway_volume;  // empty: none; else mounted read-only at gateway_target (berthd's gateway socket)
  std::string gateway_target = "/run/berth";
  std::int64_t memory = 1LL << 30;
  double cpus = 1.0;
  int pids = 256;
  int nofile = 1024;
  std::string tmp_size = "256m";
  std::string home_size = "256m";
  std::string log_max_size = "20m";
  int log_max_files = 2;
};

nlohmann::json container_create_body(const container_spec& s);

}  // namespace berth::docker
