// Where a run's worker actually runs. The Docker executor is the one we have; Swarm and Kubernetes
// executors slot in behind the same interface. An executor owns a run from `launch` until it calls
// `on_finished` (terminal status stored) or `on_requeue` (the engine was unavailable before the worker
// started: the run goes back to the queue). The scheduler never sees containers.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/usage.hpp"
#include "server/runs/exit_classifier.hpp"
#include "server/runs/output_translator.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

// What the gateway learned about a run (usage metered, egress attempts), for the run's own writer to store.
struct run_note {
  std::vector<draft> events;
  usage used;
  std::string refused;  // a model call was refused for the user's budget: the run ends failed with this
};

struct executor_callbacks {
  std::function<void(const store::run_record&)> on_finished;
  std::function<void(const store::run_record&)> on_requeue;
  std::function<void(const store::run_record&)> on_let_go;  // its thread let go of it on a store failure
};

class executor {
 public:
  virtual ~executor() = default;
  virtual void set_callbacks(executor_callbacks cb) = 0;
  // Takes over a run: a queued one is started; a starting/running one (after a restart) is re-attached.
  virtual void launch(const store::run_record& rec) = 0;
  // True when the run was active here and is now being stopped; `why` names the stop in the run's outcome.
  virtual bool stop(const std::string& id, stop_request why) = 0;
  bool cancel(const std::string& id) { return stop(id, stop_request::cancel); }
  // Shutdown: stop following runs, leave their workers running, return when every run thread has let go.
  virtual void detach_all() = 0;
  virtual std::size_t active_count() const = 0;
  virtual bool is_active(const std::string& id) const = 0;
  // Hands a note to the run's thread (its only writer); dropped when the run is not active here.
  virtual void note(const std::string& id, run_note n) = 0;
  // Warm spares (containers started ahead for a user's next run), where the executor has them.
  virtual std::size_t spare_count() const { return 0; }
  virtual bool is_spare(const std::string& /*container_id*/) const { return false; }
  // A network namespace holder (netns_pool.hpp) idle in this process's pool or joined by one of its workers.
  virtual bool holds_netns(const std::string& /*container_id*/) const { return false; }
};

}  // namespace berth::runs
