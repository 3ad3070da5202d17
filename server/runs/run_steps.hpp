// The steps every run takes whatever runs its worker — the local engine (run_flow), a Swarm service
// (swarm_flow) or a Kubernetes Job (kube_flow): store events through the journal as the run's only writer,
// pump the worker's output into events under the run and idle timeouts and stop requests, store what the
// gateway noted, and store the run's end. A subclass supplies how its worker starts, is followed again after
// a restart, is stopped, and how it ended.
#pragma once
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/config.hpp"
#include "server/docker/docker_error.hpp"
#include "server/docker/unix_http.hpp"
#include "server/runs/docker_executor.hpp"
#include "server/runs/exit_classifier.hpp"
#include "server/runs/journal.hpp"
#include "server/runs/output_pump.hpp"
#include "server/runs/run_tokens.hpp"

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

// Thrown inside a run thread when berthd shuts down: stop following, leave the worker running.
struct detach_signal {};

// The worker's fate cannot be known (the engine gone for good, the worker vanished): the run ends `lost`.
struct run_lost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How a worker on a cluster ended, as its engine reported it (a Swarm task, a Kubernetes Job and pod).
struct worker_end {
  bool ended = false;
  std::optional<int> exit_code;
  bool oom_killed = false;
  bool deadline = false;     // the engine's own deadline for the run passed (activeDeadlineSeconds)
  bool lost = false;         // no exit code will come: the node went away, the engine gave the worker up
  bool not_started = false;  // the engine could not start it (no node fits, no image): the run failed
  std::string reason;
};

class run_steps {
 public:
  // finished: the run has its terminal status. requeued: back to the queue (engine down before the worker
  // got its task). detached: shutdown, the worker keeps running. abandoned: the store failed mid-run; the
  // run stays active in the store for the reconciler to adopt, its slot is given back.
  enum class ending { finished, requeued, detached, abandoned };

  run_steps(const config& c, journal& j, docker_executor::active_run& a, store::run_record rec,
            std::function<void()> release, token_registry& tokens);
  virtual ~run_steps() = default;
  run_steps(const run_steps&) = delete;
  run_steps& operator=(const run_steps&) = delete;

  // Starts the worker (or follows it again after a restart), pumps its output, and stores how it ended; an
  // engine down before the worker got its task puts the run back in the queue.
  ending run();
  // After `requeued`: the run as the store now holds it (queued, with its latest sequence number).
  store::run_record as_stored() const {
    auto r = rec_;
    r.status = "queued";
    r.last_seq = seq_;
    return r;
  }

 protected:
  void emit(std::vector<draft> d, const store::run_update& u = {}) { journal_.write(rec_.id, seq_, std::move(d), u); }
  // Stores what the gateway noted for this run (egress events, the usage total) since the last call.
  void flush_notes();
  // `starting`: the worker is being made.
  void mark_starting();
  // `running` is stored and published here and nowhere else: with its start time (the run timeout counts
  // from it) and the worker's id on its engine.
  void mark_running(const std::string& worker_id);
  // The worker's task, one line: the run with its gateway token and the user's tool policy.
  std::string task_line() const;
  // A pump that resumes where the stored events end, knowing what the stored result/error events said.
  output_pump make_pump() const;
  // Feeds `s` into events until it ends, the worker is seen to have ended (worker_ended, polled every
  // poll_worker_ms_ when set), or a stopped worker's stream outlives its drain time.
  void pump(docker::unix_stream& s, output_pump& p);
  // Feeds what is left of `s` until it ends or `limit` passes (a finished worker's last lines on their way).
  // False: it did not end in time.
  bool read_rest(docker::unix_stream& s, output_pump& p, std::chrono::seconds limit);
  // The stream ended: its unterminated last lines become events too.
  void end_output(output_pump& p);
  // Asks the worker to stop (once): records why, then stop_worker().
  void request_stop(stop_request why, int limit_s);
  // What a subclass does for its kind of worker.
  virtual docker::unix_stream begin_fresh() = 0;
  virtual docker::unix_stream resume() = 0;
  virtual void after_output(docker::unix_stream&, output_pump&) {}  // the followed stream ended or was left
  virtual void finalize(output_pump& p) = 0;                       // classify, store_end, remove the worker
  // The run ends without its worker's exit (it could not start, it vanished): logged, stored, worker removed.
  virtual void finish_without_worker(run_end end, const std::string& reason);
  virtual void remove_worker() {}  // after `done` is stored; a failure is left to the reconciler
  virtual void undo_start() { remove_worker(); }  // the engine went away before the worker got its task
  virtual const char* engine_name() const = 0;  // "docker", "swarm": for messages
  virtual void stop_worker() = 0;
  virtual bool worker_ended() { return false; }
  // The output ended before the worker was seen to end (its log closes as it exits): asks worker_ended()
  // a few times a second until it says so or `limit` passes. False: it never did.
  bool await_worker_end(std::chrono::seconds limit);
  // Closes the run's token, stores the gateway's last notes and `done` (a budget refusal makes a finished
  // run failed), and frees its slot. The worker is the caller's to remove afterwards.
  void store_end(outcome o, std::optional<int> code);
  // A cluster worker's end: classified (a stop asked for, the engine's deadline, a worker that never started
  // or was lost, else its exit code and what it said), stored, and the worker removed.
  void finish_with(output_pump& p, const worker_end& e);
  const char* stop_name() const;
  // Calls `f`, waiting out an engine outage (retrying every second) so a run is never guessed at while the
  // engine cannot be asked. Gives up as `lost` after 10 minutes; a shutdown detaches instead.
  template <class F>
  auto with_engine(F f) -> decltype(f());

  const config& cfg_;
  journal& journal_;
  docker_executor::active_run& a_;
  store::run_record rec_;
  std::int64_t seq_;
  int timeout_s_;
  int idle_s_;
  stop_request stop_ = stop_request::none;
  int stop_limit_s_ = 0;
  bool engine_lost_ = false;
  std::string stop_error_;  // why stopping the worker failed, for the log and the run's reason
  int poll_worker_ms_ = 0;  // > 0: worker_ended() is asked this often while the output is followed
  std::function<void()> release_;  // called once `done` is stored: the slot is free before cleanup
  token_registry& tokens_;         // this run's gateway token is closed before its `done` is stored
  usage used_;                     // this run's metered usage so far (restored from the store after a restart)
  std::string refused_;            // why the gateway refused this run's model calls (a budget), if it did
};

template <class F>
auto run_steps::with_engine(F f) -> decltype(f()) {
  constexpr auto retry = std::chrono::seconds(1);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  for (;;) {
    try {
      return f();
    } catch (const docker::docker_error& e) {
      if (!e.unreachable()) throw;
      engine_lost_ = true;
      if (a_.detach) throw detach_signal{};
      if (std::chrono::steady_clock::now() > give_up) throw run_lost("docker engine unreachable for 10 minutes");
      std::this_thread::sleep_for(retry);
    }
  }
}

}  // namespace berth::runs
