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
constexpr auto engine_wait_max = std::chrono::minutes(10);
constexpr int after_stop_drain_ms = 10000;
constexpr int stopped_wait_margin_s = 20;  // past stop_grace_s, before a stopped worker is removed by force

// Thrown inside a run thread when berthd shuts down: stop following, leave the worker running.
struct detach_signal {};

// The worker's fate cannot be known (the engine gone for good, the container vanished): the run ends `lost`.
struct run_lost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int option_int(const nlohmann::json& o, const char* k, int fallback) {
  auto it = o.find(k);
  return it != o.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

long ms_between(clock::time_point a, clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}
}  // namespace

run_flow::run_flow(const config& c, docker::docker_client& d, journal& j, const std::string& instance,
                   docker_executor::active_run& a, store::run_record rec, spare_pool& spares, netns_pool& netns, volume_registry& volumes,
                   std::function<void()> release, token_registry& tokens, skill_sets* sets,
                   instructions_service* instructions)
    : cfg_(c), docker_(d), journal_(j), instance_(instance), a_(a), rec_(std::move(rec)), seq_(rec_.last_seq),
      spares_(spares), netns_(netns), volumes_(volumes), release_(std::move(release)), tokens_(tokens), sets_(sets), instructions_(instructions),
      used_(usage_from_json(parse_json(rec_.usage))) {
  auto opts = parse_json(rec_.options);
  if (!opts.is_object()) opts = nlohmann::json::object();
  timeout_s_ = option_int(opts, "timeout_s", cfg_.run_timeout_s);
  idle_s_ = option_int(opts, "idle_timeout_s", cfg_.idle_timeout_s);
}

template <class F>
auto run_flow::with_engine(F f) -> decltype(f()) {
  auto give_up = clock::now() + engine_wait_max;
  for (;;) {
    try {
      return f();
    } catch (const docker::docker_error& e) {
      if (!e.unreachable()) throw;
      engine_lost_ = true;
      if (a_.detach) throw detach_signal{};
      if (clock::now() > give_up) throw run_lost("docker engine unreachable for 10 minutes");
      std::this_thread::sleep_for(engine_retry_interval);
    }
  }
}

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

nlohmann::json run_flow::user_tools() const {
  auto text = journal_.db().user_setting(rec_.user, "tools");
  return text ? parse_json(*text) : nlohmann::json(nullptr);
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
  store::run_update starting;
  starting.status = "starting";
  emit({{"status", {{"status", "starting"}}}}, starting);
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
    warm->write_all(serialize_task(build_task(cfg_, rec_, tokens_.token_of(rec_.id), user_tools())));
    warm->shutdown_write();
    mark_running();
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
  s.write_all(serialize_task(build_task(cfg_, rec_, tokens_.token_of(rec_.id), user_tools())));
  s.shutdown_write();
  mark_running();
  log::info("worker started", {{"run", rec_.id}, {"container", cid_.substr(0, 12)}});
  return s;
}

// `running` is stored and published here and nowhere else: with its start time (the run timeout counts from
// it) and the container that runs it.
void run_flow::mark_running() {
  store::run_update u;
  u.status = "running";
  u.container_id = cid_;
  u.started_at = now_ms();
  rec_.started_at = u.started_at;
  emit({{"status", {{"status", "running"}}}}, u);
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
  if (rec_.status == "starting") mark_running();
  log::info("following worker logs after restart",
            {{"run", rec_.id}, {"stdout_offset", std::to_string(rec_.stdout_offset)}});
  return with_engine([&] { return docker_.follow_logs(cid_); });
}

void run_flow::restore_facts(output_pump& p) {
  for (std::int64_t after = 0;;) {
    auto evs = journal_.db().events_after(rec_.id, after, 1000);
    if (evs.empty()) break;
    for (const auto& e : evs) {
      after = e.seq;
      if (e.type != "result" && e.type != "error") continue;
      auto j = parse_json(e.data);
      if (e.type == "result") {
        p.facts().saw_result = true;
        p.facts().result_is_error = j.value("is_error", false);
      } else {
        p.facts().error_kind = j.value("kind", "");
        p.facts().error_message = j.value("message", "");
      }
    }
  }
}

void run_flow::request_stop(stop_request why, int limit_s) {
  if (stop_ != stop_request::none) return;
  stop_ = why;
  stop_limit_s_ = limit_s;
  log::info("stopping worker", {{"run", rec_.id},
                                {"why", why == stop_request::cancel        ? "cancel"
                                        : why == stop_request::run_timeout ? "run timeout"
                                        : why == stop_request::disk_limit  ? "workspace over its limit"
                                                                           : "idle timeout"}});
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

void run_flow::pump(docker::unix_stream& s, output_pump& p) {
  using namespace std::chrono;
  const std::int64_t started = rec_.started_at.value_or(now_ms());
  auto idle_deadline = clock::now() + seconds(idle_s_);
  auto stopped_at = clock::time_point{};
  store::run_update last = p.progress();
  std::vector<draft> drafts;
  for (;;) {
    if (a_.detach) throw detach_signal{};
    if (!s.has_buffered()) {
      auto now = clock::now();
      auto run_left = milliseconds(started + std::int64_t{timeout_s_} * 1000 - now_ms());
      auto idle_left = duration_cast<milliseconds>(idle_deadline - now);
      auto wait = std::min(run_left, idle_left);
      if (stop_ != stop_request::none) wait = duration_cast<milliseconds>(stopped_at + milliseconds(after_stop_drain_ms) - now);
      pollfd fds[2] = {{s.fd(), POLLIN, 0}, {a_.wake_fd, POLLIN, 0}};
      int r = ::poll(fds, 2, static_cast<int>(std::max<std::int64_t>(0, wait.count())));
      if (r < 0 && errno == EINTR) continue;
      if (fds[1].revents & POLLIN) {
        std::uint64_t n;
        [[maybe_unused]] auto rd = ::read(a_.wake_fd, &n, sizeof n);
        if (a_.detach) continue;
        flush_notes();
        if (auto why = a_.stop_why.load(); why != stop_request::none && stop_ == stop_request::none) {
          request_stop(why, 0);
          stopped_at = clock::now();
        }
        continue;
      }
      if (r == 0) {
        if (stop_ != stop_request::none) break;  // stopped, yet the stream did not end: stop following
        if (run_left <= idle_left) request_stop(stop_request::run_timeout, timeout_s_);
        else request_stop(stop_request::idle_timeout, idle_s_);
        stopped_at = clock::now();
        continue;
      }
    }
    auto rd = s.read();
    if (!rd.data.empty()) {
      idle_deadline = clock::now() + seconds(idle_s_);
      drafts.clear();
      if (!p.feed(rd.data, drafts)) {
        drafts.push_back(log_draft("berthd", "corrupt output stream from docker; no longer reading it"));
        emit(std::move(drafts), p.progress());
        break;
      }
      if (!drafts.empty() || p.progressed_since(last)) {
        last = p.progress();
        emit(std::move(drafts), last);
      }
    }
    if (rd.eof) break;
  }
  drafts.clear();
  p.finish(drafts);
  if (!drafts.empty()) emit(std::move(drafts), p.progress());
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
  tokens_.close(rec_.id, a_.token_opening);
  flush_notes();
  // The agent was cut off from the model by its user's budget: whatever it made of that, the run failed.
  if (!refused_.empty() && (o.end == run_end::succeeded || o.end == run_end::failed)) o = {run_end::failed, "budget exceeded: " + refused_};
  journal_.finish(rec_.id, seq_, o.end, o.reason, code);
  release_();
  const auto t_done = clock::now();
  log::info("run finished", {{"run", rec_.id}, {"status", std::string(name_of(o.end))}, {"exit_code", code ? std::to_string(*code) : "-"}, {"reason", o.reason}});
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

void run_flow::flush_notes() {
  run_note n;
  {
    std::lock_guard lock(a_.notes_m);
    std::swap(n, a_.notes);
  }
  if (!n.refused.empty() && refused_.empty()) {
    refused_ = n.refused;
    n.events.push_back(log_draft("berthd", "the gateway refused a model call: " + refused_));
  }
  if (n.events.empty() && n.used.empty()) return;
  store::run_update u;
  if (!n.used.empty()) {
    used_ += n.used;
    u.usage = used_.to_json().dump();
    // The user's spend today grows in the same transaction: a restart neither loses nor repeats it.
    u.spend = store::spend_delta{utc_day(now_ms()), total_tokens(n.used), n.used.cost_micro_usd};
  }
  emit(std::move(n.events), u);
}

void run_flow::finish_without_worker(run_end end, const std::string& reason) {
  tokens_.close(rec_.id, a_.token_opening);
  flush_notes();
  journal_.finish(rec_.id, seq_, end, reason);
  release_();
  log::warn("run ended without a worker exit", {{"run", rec_.id}, {"status", std::string(name_of(end))}, {"reason", reason}});
  if (!cid_.empty()) {
    try { docker_.remove(cid_); } catch (const docker::docker_error&) {}
  }
  netns_.release(netns_holder_);
}

run_flow::ending run_flow::run() {
  bool started = false;
  const bool fresh = rec_.status == "queued";
  try {
    docker::unix_stream s = fresh ? begin_fresh() : resume();
    started = true;
    output_pump p(cfg_.max_output_bytes, static_cast<std::size_t>(cfg_.max_line_bytes), rec_, engine_secrets(cfg_));
    restore_facts(p);
    if (auto why = a_.stop_why.load(); why != stop_request::none) request_stop(why, 0);
    pump(s, p);
    finalize(p);
    return ending::finished;
  } catch (const detach_signal&) {
    log::info("detached from run; its worker keeps running", {{"run", rec_.id}});
    return ending::detached;
  } catch (const docker::docker_error& e) {
    if (e.unreachable() && !started && fresh) {
      // The engine is down before the worker got its task: back to the queue, nothing was lost.
      store::run_update u;
      u.status = "queued";
      emit({{"status", {{"status", "queued"}, {"reason", "docker engine unavailable; waiting for it"}}}}, u);
      if (!cid_.empty()) { try { docker_.remove(cid_); } catch (const docker::docker_error&) {} }
      netns_.release(netns_holder_);
      log::warn("docker unavailable; run requeued", {{"run", rec_.id}, {"error", e.what()}});
      return ending::requeued;
    }
    finish_without_worker(run_end::failed, std::string("docker: ") + e.what());
  } catch (const run_lost& e) {
    finish_without_worker(run_end::lost, e.what());
  } catch (const std::exception& e) {
    if (store::is_store_error(e)) throw;  // the database failed, not the run: leave it active for recovery
    finish_without_worker(run_end::failed, std::string("berthd: ") + e.what());
  }
  return ending::finished;
}

}  // namespace berth::runs
