// One run, start to finish, on the thread docker_executor gives it: create the hardened container (or take
// a warm spare), attach before start, hand over the task, pump output into events while enforcing the run
// and idle timeouts and cancel, classify the exit, store `done`, remove the container. After a restart the
// same steps follow the container's logs instead (resume), skipping bytes whose events are stored already.
// Engine outages are waited out; a shutdown detaches and leaves the worker running.
#pragma once
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/config.hpp"
#include "server/docker/container_spec.hpp"
#include "server/docker/docker_client.hpp"
#include "server/runs/docker_executor.hpp"
#include "server/runs/exit_classifier.hpp"
#include "server/runs/journal.hpp"
#include "server/runs/netns_pool.hpp"
#include "server/runs/output_pump.hpp"
#include "server/runs/run_tokens.hpp"
#include "server/runs/spare_pool.hpp"
#include "server/runs/volume_registry.hpp"

namespace berth::runs {

// What the executor and a run's thread share: cancel and detach requests, and an eventfd that wakes the pump.
struct docker_executor::active_run {
  std::string id;
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::atomic<stop_request> stop_why{stop_request::none};  // asked from outside: cancel, disk limit
  std::atomic<bool> detach{false};
  std::jthread thread;  // guarded by the executor's mutex
  std::uint64_t token_opening = 0;  // this run's gateway token, as launch() opened it
  std::mutex notes_m;   // the gateway's notes for this run, taken by its thread (after the executor's mutex)
  run_note notes;
  ~active_run() { if (wake_fd >= 0) ::close(wake_fd); }
  void wake() const {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
};

// Everything one run thread needs; the steps of a run are its methods.
class run_flow {
 public:
  run_flow(const config& c, docker::docker_client& d, journal& j, const std::string& instance,
           docker_executor::active_run& a, store::run_record rec, spare_pool& spares, netns_pool& netns, volume_registry& volumes,
           std::function<void()> release, token_registry& tokens, skill_sets* sets = nullptr,
           instructions_service* instructions = nullptr);

  // finished: the run has its terminal status. requeued: back to the queue (engine down before the worker
  // got its task). detached: shutdown, the worker keeps running. abandoned: the store failed mid-run; the
  // run stays active in the store for the reconciler to adopt, its slot is given back.
  enum class ending { finished, requeued, detached, abandoned };
  ending run();
  // After `requeued`: the run as the store now holds it (queued, with its latest sequence number).
  store::run_record as_stored() const {
    auto r = rec_;
    r.status = "queued";
    r.last_seq = seq_;
    return r;
  }

 private:
  docker::unix_stream begin_fresh();
  docker::unix_stream resume();
  void pump(docker::unix_stream& s, output_pump& p);
  void request_stop(stop_request why, int limit_s);
  void finalize(output_pump& p);
  void finish_without_worker(run_end end, const std::string& reason);
  void restore_facts(output_pump& p);
  // Calls `f`, waiting out an engine outage (retrying every second) so a run is never guessed at while the
  // engine cannot be asked. Gives up as `lost` after engine_wait_max; a shutdown detaches instead.
  template <class F>
  auto with_engine(F f) -> decltype(f());
  void emit(std::vector<draft> d, const store::run_update& u = {}) { journal_.write(rec_.id, seq_, std::move(d), u); }
  // Stores what the gateway noted for this run (egress events, the usage total) since the last call.
  void flush_notes();
  docker::container_spec spec() const;
  nlohmann::json user_tools() const;  // the user's tool policy (null: none)
  std::optional<docker::unix_stream> take_spare();
  void mark_running();
  std::optional<docker::container_state> exit_state();
  // After a stop request: the container's end within stop_grace_s + a margin, killing and finally removing
  // it by force when the engine does not stop it. Never an unbounded wait.
  std::optional<docker::container_state> stopped_state();

  const config& cfg_;
  docker::docker_client& docker_;
  journal& journal_;
  const std::string& instance_;
  docker_executor::active_run& a_;
  store::run_record rec_;
  std::int64_t seq_;
  int timeout_s_;
  int idle_s_;
  std::string cid_;
  stop_request stop_ = stop_request::none;
  int stop_limit_s_ = 0;
  bool engine_lost_ = false;
  std::string stop_error_;  // why stopping the worker failed, for the log and the run's reason
  spare_pool& spares_;
  netns_pool& netns_;
  std::string netns_holder_;  // the namespace made ahead that this run's worker joined ("" its own)
  volume_registry& volumes_;
  std::function<void()> release_;  // called once `done` is stored: the slot is free before cleanup
  token_registry& tokens_;  // this run's gateway token is closed before its `done` is stored
  skill_sets* sets_;        // null: no skills, agents or MCP config are mounted
  std::string set_volume_;  // this run's (decided when it starts fresh)
  instructions_service* instructions_;  // null: no instructions are mounted
  bool has_instructions_ = false;       // this run mounts them (decided when it starts fresh)
  usage used_;  // this run's metered usage so far (restored from the store after a restart)
  std::string refused_;  // why the gateway refused this run's model calls (a budget), if it did
  std::optional<docker::unix_stream> exit_waiter_;
};

}  // namespace berth::runs
