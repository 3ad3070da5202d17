#include "server/docker/container_spec.hpp"

#include <cmath>

namespace berth::docker {

nlohmann::json container_create_body(const container_spec& s) {
  using json = nlohmann::json;
  // uid/gid on the tmpfs HOME: without a writable HOME, the agent's tools cannot run.
  auto sep = s.user.find(':');
  std::string uid = s.user.substr(0, sep);
  std::string gid = sep == std::string::npos ? uid : s.user.substr(sep + 1);
  json tmpfs = {{"/tmp", "rw,nosuid,nodev,size=" + s.tmp_size},
                {s.home, "rw,nosuid,nodev,size=" + s.home_size + ",uid=" + uid + ",gid=" + gid + ",mode=0700"}};
  json host = {
      {"NetworkMode", s.network},
      {"Memory", s.memory},
      {"MemorySwap", s.memory},
      {"NanoCpus", static_cast<std::int64_t>(std::llround(s.cpus * 1e9))},
      {"PidsLimit", s.pids},
      {"CapDrop", json::array({"ALL"})},
      {"SecurityOpt", json::array({"no-new-privileges"})},
      {"ReadonlyRootfs", true},
      {"Privileged", false},
      {"Init", true},
      {"Tmpfs", tmpfs},
      {"Ulimits", json::array({{{"Name", "nofile"}, {"Soft", s.nofile}, {"Hard", s.nofile}}})},
      {"LogConfig", {{"Type", "json-file"},
                     {"Config", {{"max-size", s.log_max_size}, {"max-file", std::to_string(s.log_max_files)}}}}},
      {"AutoRemove", false},
  };
  json mounts = json::array();
  if (!s.workspace_volume.empty())
    mounts.push_back({{"Type", "volume"}, {"Source", s.workspace_volume}, {"Target", "/workspace"}});
  if (!s.set_volume.empty())
    mounts.push_back({{"Type", "volume"}, {"Source", s.set_volume}, {"Target", s.set_target}, {"ReadOnly", true}});
  if (!s.instructions_volume.empty())
    mounts.push_back({{"Type", "volume"}, {"Source", s.instructions_volume}, {"Target", s.instructions_target}, {"ReadOnly", true}});
  if (!s.gateway_volume.empty())
    mounts.push_back({{"Type", "volume"}, {"Source", s.gateway_volume}, {"Target", s.gateway_target}, {"ReadOnly", true}});
  if (!mounts.empty()) host["Mounts"] = mounts;
  json env = s.env;
  env.push_back("HOME=" + s.home);
  return {
      {"Image", s.image},
      {"User", s.user},
      {"Env", env},
      {"Labels", s.labels},
      {"WorkingDir", "/workspace"},
      {"AttachStdin", true},
      {"AttachStdout", true},
      {"AttachStderr", true},
      {"OpenStdin", true},
      {"StdinOnce", true},
      {"Tty", false},
      {"HostConfig", host},
  };
}

}  // namespace berth::docker
