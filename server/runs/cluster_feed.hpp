// What other instances on a shared database announce, turned into local action: events of runs followed
// elsewhere are read from the store and published on this process's bus (so any instance streams any run,
// live), a run queued or ended anywhere makes the scheduler look, and a cancel asked elsewhere stops a run
// followed here. Nothing on SQLite (one instance). If notifications were interrupted, every live stream is
// ended so its client resumes from the store with Last-Event-ID: nothing is missed silently.
#pragma once
#include <memory>
#include <string>

#include "server/runs/event_bus.hpp"
#include "server/runs/executor.hpp"
#include "server/runs/run_manager.hpp"
#include "server/store/store.hpp"

namespace berth::store::postgres { class pg_listener; }

namespace berth::runs {

// "<node> <run> <first> <last>" → its parts; nullopt for anything else. Pure.
struct announced_events {
  std::string node, run;
  std::int64_t first = 0, last = 0;
};
std::optional<announced_events> parse_announcement(const std::string& payload);

class cluster_feed {
 public:
  cluster_feed(store::store& s, event_bus& bus, run_manager& m, executor& e);
  ~cluster_feed();
  void start();
  void stop();
  // True on SQLite, and on PostgreSQL while the notification connection is up.
  bool connected() const;

 private:
  void on_note(const std::string& channel, const std::string& payload);
  void on_resync();
  store::store& store_;
  event_bus& bus_;
  run_manager& manager_;
  executor& exec_;
  bool first_sync_ = true;
  std::unique_ptr<store::postgres::pg_listener> listener_;
};

}  // namespace berth::runs
