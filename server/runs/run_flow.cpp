#include "server/runs/run_flow.hpp"

#include <poll.h>

#include <chrono>
#include <thread>
#include <utility>

#include "common/json_bounded.hpp"
#include "common/prices.hpp"
#include "common/usage.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "common/task.hpp"
#include "server/runs/budgets.hpp"
#include "server/runs/metrics.hpp"
#include "server/runs/task_builder.hpp"

namespace berth::runs {

namespace {
using clock = std::chrono::steady_clock;
constexpr auto engine_retry_interval = std::chrono::seconds(1);
constexpr int stopped_wait_margin_s = 20;  // past stop_grace_s, before a stopped worker is removed by force

long ms_between(clock::time_point a, clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}
}  // namespace

run_flow::run_flow(const config& c, docker::docker_client& d, journal& j, const std::string& instance,
                   docker_executor::active_run& a, store::run_record rec, spare_pool& spares, netns_pool& netns, volume_registry& volumes,
                   std::function<void()> release, token_registry& tokens, skill_sets* sets,
                   instructions_service* instructions)
    : run_steps(c, j, a, std::move(rec), std::move(release), tokens), docker_(d), instance_(instance), spares_(spares),
      netns_(netns), volumes_(volumes), sets_(sets), instructions_(instructions) {}

// How the container ended. With the wait registered before start the exit code is already there; only an
// exit code that may mean the OOM killer (137 = SIGKILL) costs an inspect. Otherwise (a resumed run, a lost
// waiter) ask the engine, waiting out an outage; a stopped run's wait is bounded (stopped_state).
std::optional<docker::container_state> run_flow::exit_state() {
  if (exit_waiter_) {
    auto code = docker::docker_client::read_wait(*exit_waiter_, 5000);
    exit_waiter_.reset();
    if (code && *code != 137) {
      docker::container_state st;
      st.id = cid_;
      st.exit_code = *code;
      return st;
    }
  }
  if (stop_ != stop_request::none) return stopped_state();
  return with_engine([&] {
    try {
      docker_.wait_exit(cid_);
    } catch (const docker::docker_error& e) {
      if (e.unreachable()) throw;  // 404: gone already; inspect says so
    }
    return docker_.inspect(cid_);
  });
}

// A warm spare of this user, if there is one that fits: its worker already waits for the task.
std::optional<docker::unix_stream> run_flow::take_spare() {
  if (!cfg_.spares) return std::nullopt;
  auto s = spares_.take(rec_.user, has_instructions_, set_volume_, rec_.session, rec_.id);
  if (!s) return std::nullopt;
  cid_ = s->container_id;
  exit_waiter_ = std::move(s->waiter);
  store::run_update u;
  u.container_id = cid_;
  emit({}, u);
  global_metrics().spares_taken.fetch_add(1, std::memory_order_relaxed);
  log::info("run takes a warm spare", {{"run", rec_.id}, {"container", cid_.substr(0, 12)}});
  return std::move(s->stream);
}

docker::container_spec run_flow::spec() const {
  auto s = worker_container(cfg_, instance_, rec_.user, has_instructions_, set_volume_);
  s.labels["berth.run"] = rec_.id;
  if (!netns_holder_.empty()) {  // its own namespace, made ahead (netns_pool.hpp)
    s.network = "container:" + netns_holder_;
    s.labels["berth.netns"] = netns_holder_;
  }
  return s;
}

docker::unix_stream run_flow::begin_fresh() {
  mark_starting();
  const auto t0 = clock::now();
  if (sets_) {
    try {
      set_volume_ = sets_->volume_for(rec_.user, parse_json(rec_.options));
    } catch (const storage::storage_error& e) {
      throw std::runtime_error(std::string("the user's skills and agents could not be read: ") + e.what());
    }
  }
  if (instructions_) {
    try {
      has_instructions_ = instructions_->ready(rec_.user);
    } catch (const storage::storage_error& e) {
      throw std::runtime_error(std::string("the user's instructions could not be read: ") + e.what());
    }
  }
  std::optional<docker::unix_stream> warm = take_spare();
  if (warm) {
    global_metrics().container_start_s.observe(std::chrono::duration<double>(clock::now() - t0).count());
    warm->write_all(task_line());
    warm->shutdown_write();
    mark_running(cid_);
    // Operators find it by its run's name, as any run. After `running`: the worker already has its task, and
    // its output waits in the attach stream meanwhile.
    try {
      docker_.rename(cid_, container_name(rec_.id));
    } catch (const docker::docker_error& e) {
      log::warn("could not rename spare", {{"run", rec_.id}, {"error", e.what()}});
    }
    return std::move(*warm);
  }
  const std::string name = container_name(rec_.id);
  netns_pool::start_in_flight in_flight(netns_);  // no namespace is made ahead while this start needs dockerd
  volumes_.ensure(workspace_volume(instance_, rec_.user), workspace_labels(instance_, rec_.user));
  netns_holder_ = netns_.take(rec_.user);
  auto create = [&] {
    auto body = docker::container_create_body(spec());
    try {
      cid_ = docker_.create_container(name, body);
    } catch (const docker::docker_error& e) {
      if (e.status != 409) throw;
      // A container of this name survives from a crash before its id was stored: it never got its task.
      docker_.remove(name);
      cid_ = docker_.create_container(name, body);
    }
    store::run_update u;
    u.container_id = cid_;
    emit({}, u);
  };
  create();
  const auto t_created = clock::now();
  auto s = docker_.attach(cid_);
  exit_waiter_ = docker_.wait_next_exit(cid_);  // registered before start: the exit is known the moment it happens
  const auto t_attached = clock::now();
  try {
    docker_.start(cid_);
  } catch (const docker::docker_error& e) {
    if (netns_holder_.empty() || e.unreachable()) throw;
    // The holder is gone (removed or killed behind berthd's back): this worker makes its own namespace.
    log::warn("the network namespace made ahead could not be joined; starting without it", {{"run", rec_.id}, {"error", e.what()}});
    docker_.remove(cid_);
    netns_.release(std::exchange(netns_holder_, {}));
    netns_.flush_idle();
    create();
    s = docker_.attach(cid_);
    exit_waiter_ = docker_.wait_next_exit(cid_);
    docker_.start(cid_);
  }
  const auto t_started = clock::now();
  global_metrics().container_start_s.observe(std::chrono::duration<double>(t_started - t0).count());
  if (log::enabled(log::level::debug))
    log::debug("worker container timings", {{"run", rec_.id}, {"create_ms", std::to_string(ms_between(t0, t_created))},
                                            {"attach_ms", std::to_string(ms_between(t_created, t_attached))},
                                            {"start_ms", std::to_string(ms_between(t_attached, t_started))}});
  s.write_all(task_line());
  s.shutdown_write();
  mark_running(cid_);
  log::info("worker started", {{"run", rec_.id}, {"container", cid_.substr(0, 12)}});
  return s;
}

docker::unix_stream run_flow::resume() {
  const std::string ref = rec_.container_id.empty() ? container_name(rec_.id) : rec_.container_id;
  auto st = with_engine([&] { return docker_.inspect(ref); });
  if (!st) {
    if (rec_.status == "starting") return begin_fresh();  // created nothing yet, or it was removed
    throw run_lost("the worker container vanished while berthd was not following it");
  }
  cid_ = st->id;
  if (st->status == "created") {  // never started, so it never received its task: start over
    docker_.remove(cid_);
    return begin_fresh();
  }
  if (rec_.status == "starting") mark_running(cid_);
  log::info("following worker logs after restart",
            {{"run", rec_.id}, {"stdout_offset", std::to_string(rec_.stdout_offset)}});
  return with_engine([&] { return docker_.follow_logs(cid_); });
}

void run_flow::stop_worker() {
  try {
    docker_.stop(cid_, cfg_.stop_grace_s);
  } catch (const docker::docker_error& e) {
    log::warn("stop failed, killing", {{"run", rec_.id}, {"error", e.what()}});
    try {
      docker_.kill(cid_);
    } catch (const docker::docker_error& k) {
      stop_error_ = k.what();
      log::error("could not stop or kill the worker; its end is awaited for a bounded time",
                 {{"run", rec_.id}, {"stop_error", e.what()}, {"kill_error", k.what()}});
    }
  }
}

std::optional<docker::container_state> run_flow::stopped_state() {
  const auto give_up = clock::now() + std::chrono::seconds(cfg_.stop_grace_s + stopped_wait_margin_s);
  bool killed = false;
  for (;;) {
    try {
      auto st = docker_.inspect(cid_);
      if (!st || !st->running) return st;
      if (!killed && clock::now() > give_up - std::chrono::seconds(stopped_wait_margin_s / 2)) {
        killed = true;
        docker_.kill(cid_);
      }
    } catch (const docker::docker_error& e) {
      stop_error_ = e.what();
    }
    if (clock::now() > give_up) break;
    std::this_thread::sleep_for(engine_retry_interval);  // polling a rare failure path, once a second
  }
  log::error("the worker did not end after being stopped; removing it by force",
             {{"run", rec_.id}, {"error", stop_error_}});
  try {
    docker_.remove(cid_);
  } catch (const docker::docker_error& e) {
    log::error("could not remove the worker either; the reconciler will retry", {{"run", rec_.id}, {"error", e.what()}});
  }
  docker::container_state st;
  st.id = cid_;
  st.exit_code = 137;
  if (stop_error_.empty()) stop_error_ = "the engine did not stop it";
  return st;
}

void run_flow::finalize(output_pump& p) {
  // The stream ended: the worker exited (or the engine went away). Ask the engine how it ended, waiting for
  // it to come back if it is down, so the run gets its true status rather than a guess.
  const auto t_eof = clock::now();
  auto st = exit_state();
  outcome o;
  std::optional<int> code;
  if (!st) {
    o = {run_end::lost, "the worker container disappeared before its exit could be read"};
  } else {
    auto& f = p.facts();
    f.requested = stop_;
    f.timeout_s = stop_limit_s_;
    f.limit_bytes = cfg_.workspace_max_bytes;
    f.exit_code = st->exit_code;
    f.oom_killed = st->oom_killed;
    code = st->exit_code;
    o = classify_exit(f);
    if (engine_lost_ && o.end == run_end::failed && stop_ == stop_request::none)
      o.reason = "the docker engine stopped while the worker ran (exit code " + std::to_string(st->exit_code) + ")";
    if (!stop_error_.empty()) o.reason += (o.reason.empty() ? "" : "; ") + std::string("stopping the worker failed: ") + stop_error_;
  }
  store_end(o, code);
  const auto t_done = clock::now();
  try {
    docker_.remove(cid_);
    netns_.give_back(rec_.user, netns_holder_);  // the worker is gone: its namespace serves the user's next run
  } catch (const docker::docker_error& e) {
    log::warn("could not remove worker container; the reconciler will", {{"run", rec_.id}, {"error", e.what()}});
    netns_.release(netns_holder_);
  }
  if (log::enabled(log::level::debug))
    log::debug("worker exit timings", {{"run", rec_.id}, {"wait_inspect_store_ms", std::to_string(ms_between(t_eof, t_done))},
                                       {"remove_ms", std::to_string(ms_between(t_done, clock::now()))}});
}

void run_flow::remove_worker() {
  if (!cid_.empty()) {
    try { docker_.remove(cid_); } catch (const docker::docker_error&) {}
  }
  netns_.release(netns_holder_);
}

}  // namespace berth::runs
