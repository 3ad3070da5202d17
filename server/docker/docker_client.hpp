// Docker Engine API client over the unix socket. Plain calls use cpp-httplib (a fresh connection per call:
// cheap on AF_UNIX and safe from any thread); streams (attach, logs, events) return a unix_stream the caller
// polls. transaction() is the one place a status is checked and Docker's {"message"} turned into an error.
// Every call blocks: never call this from an I/O thread.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/docker/docker_error.hpp"
#include "server/docker/unix_http.hpp"

namespace berth::docker {

struct container_state {
  std::string id;
  std::string name;
  std::string status;  // created, running, exited, …
  bool running = false;
  bool oom_killed = false;
  int exit_code = 0;
  std::string error;
  std::string started_at;
  std::string finished_at;
  std::map<std::string, std::string> labels;
};

struct container_summary {
  std::string id;
  std::string name;
  std::string state;
  std::int64_t created = 0;  // unix seconds
  std::map<std::string, std::string> labels;
};

struct volume_usage {
  std::string name;
  std::map<std::string, std::string> labels;
  std::int64_t size = -1;  // bytes; -1 when the engine could not say
  std::int64_t ref_count = 0;
};

class docker_client {
 public:
  explicit docker_client(std::string socket_path);
  const std::string& socket_path() const { return socket_; }

  nlohmann::json version();
  nlohmann::json info();  // GET /info: counts of containers and images, host facts as the engine sees them
  bool ping();
  void ping_or_throw();
  std::string create_container(const std::string& name, const nlohmann::json& body);
  void start(const std::string& id);
  // SIGTERM, then SIGKILL after `grace_s`; a container that already stopped is fine.
  void stop(const std::string& id, int grace_s);
  void kill(const std::string& id);
  void remove(const std::string& id);  // force; a missing container is fine
  std::optional<container_state> inspect(const std::string& id);  // nullopt: no such container
  nlohmann::json inspect_json(const std::string& id);               // Docker's answer as is; null if none
  int wait_exit(const std::string& id);                            // condition=not-running
  // `wait?condition=next-exit` opened now (before start) and answered when the container exits: read it
  // with read_wait() after the output ends, with no extra round trip.
  unix_stream wait_next_exit(const std::string& id);
  static std::optional<int> read_wait(unix_stream& s, int timeout_ms);
  std::vector<container_summary> list(const std::string& label_filter, bool all = true);
  std::string image_id(const std::string& image);  // empty when the image is missing
  void rename(const std::string& id, const std::string& name);
  // Returns the volume's mountpoint on the engine's host (what a berthd on that host can use).
  std::string ensure_volume(const std::string& name, const std::map<std::string, std::string>& labels);
  void remove_volume(const std::string& name);  // a missing volume is fine
  // Every volume with its size and how many containers use it (GET /system/df: dockerd walks them, ~50 ms here).
  // dockerd runs one such walk at a time: a concurrent call is refused (500 "already running").
  std::vector<volume_usage> volumes_with_usage();
  // Names of the volumes carrying `label` ("key=value"): a cheap listing, no sizes.
  std::vector<std::string> list_volumes(const std::string& label);
  // Extracts a tar archive into `dir` of a (created, not necessarily started) container; works for
  // volumes even when the root filesystem is read-only.
  void put_archive(const std::string& id, const std::string& dir, const std::string& tar);
  // Whether `path` exists in the container's filesystem (HEAD of the archive API: a stat, nothing copied).
  bool path_exists(const std::string& id, const std::string& path);

  // Hijacked attach with stdin, stdout and stderr (multiplexed, no TTY). Open it before start.
  unix_stream attach(const std::string& id);
  // All output since the container started, then live (follow) until it stops.
  unix_stream follow_logs(const std::string& id);
  // Engine events for containers carrying `label`, newline-separated JSON.
  unix_stream events(const std::string& label, std::int64_t since_unix);

  // Swarm, on a manager (server/docker/swarm_calls.cpp; bodies from swarm_spec.hpp). Removing what is already
  // gone is fine.
  std::string create_secret(const nlohmann::json& body);  // its ID
  void remove_secret(const std::string& id);
  std::string create_service(const nlohmann::json& body);  // its ID
  void remove_service(const std::string& id);
  nlohmann::json service_tasks(const std::string& service);  // GET /tasks for one service (array; empty once it is gone)
  nlohmann::json node(const std::string& id);                // null when unknown
  nlohmann::json services(const std::string& label_filter);  // array
  nlohmann::json secrets(const std::string& label_filter);   // array
  // A service's output since its task started (multiplexed like a container's logs); with `follow`, then
  // live — a followed stream does not end when the task does.
  unix_stream service_logs(const std::string& service, bool follow);
  // The network of this name (null: none), and an internal attachable overlay made under it.
  nlohmann::json network(const std::string& name);
  void create_overlay(const std::string& name, const std::map<std::string, std::string>& labels);
  void remove_network(const std::string& name);  // a missing one is fine

 private:
  nlohmann::json transaction(const std::string& method, const std::string& path, const nlohmann::json* body,
                             int timeout_s, bool allow_404 = false, bool allow_304 = false);
  std::string socket_;
};

// Engine API calls that failed (unreachable or an error status), since start: for /metrics.
std::uint64_t docker_api_errors();

// Percent-encodes a query value (filters JSON, names).
std::string url_escape(std::string_view s);

}  // namespace berth::docker
