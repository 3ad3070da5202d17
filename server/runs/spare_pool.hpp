// Warm spares (BERTH_SPARES=on). Container start dominates a run's latency, and chat users send several
// messages in a row, so after a user's run ends a container for their *next* run is made ready: hardened,
// their volumes mounted, attached, started, its worker blocked reading the task on stdin. It holds no request
// data until a run of the same user takes it; it serves exactly that one run. Spares are labelled
// `berth.spare=<user>` (not `berth.run`), bounded by BERTH_SPARES_MAX, expire after BERTH_SPARE_IDLE_S, and
// are discarded when the worker image changes; after a restart the reconciler removes the old ones.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/config.hpp"
#include "server/docker/docker_client.hpp"
#include "server/runs/instructions.hpp"
#include "server/runs/skill_sets.hpp"
#include "server/runs/volume_registry.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

struct spare {
  std::string user;
  std::string container_id;
  docker::unix_stream stream;  // attached before start; stdin still open
  docker::unix_stream waiter;  // wait?condition=next-exit, registered before start
  std::chrono::steady_clock::time_point created;
  std::int64_t created_ms = 0;  // wall clock, to compare with runs' created_at
  bool instructions = false;   // whether it mounts the user's instructions volume
  bool warm_cli = false;       // it was handed a prepared task: its CLI waits for the message
  std::string set_volume;      // the user's skills and agents as they were when it was made ("" none)
};

class spare_pool {
 public:
  spare_pool(const config& c, docker::docker_client& d, store::store& s, std::string instance, volume_registry& volumes);
  ~spare_pool();
  // Makes a spare for `user` in the background unless one exists or the pool is full.
  void replenish(const std::string& user);
  // The user's spare if it still fits (same instructions mount and set, not expired, its worker alive, and —
  // for a run in a session — no other run of that session active or begun since the spare was made, whose
  // turns its waiting CLI would not have seen), removed from the pool.
  std::unique_ptr<spare> take(const std::string& user, bool instructions, const std::string& set_volume,
                              const std::string& session = {}, const std::string& run = {});
  void set_skill_sets(skill_sets* s) { sets_ = s; }  // before start(); null: spares mount no set
  void set_instructions(instructions_service* i) { instructions_ = i; }  // before start(); null: none mounted
  std::size_t size() const;
  bool contains(const std::string& container_id) const;
  void start();  // the expiry/image watcher
  void stop();   // discards every spare and waits for background work

 private:
  void create(const std::string& user);
  std::optional<std::string> prepared_task(const std::string& user);  // the line a warm CLI starts from
  void discard(std::unique_ptr<spare> s, const char* why);
  void watch();

  const config& cfg_;
  docker::docker_client& docker_;
  store::store& store_;
  std::string instance_;
  volume_registry& volumes_;
  skill_sets* sets_ = nullptr;
  instructions_service* instructions_ = nullptr;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::map<std::string, std::unique_ptr<spare>> spares_;
  std::map<std::string, bool> creating_;
  int background_ = 0;
  bool stop_ = false;
  std::string image_id_;
  std::thread watcher_;
};

}  // namespace berth::runs
