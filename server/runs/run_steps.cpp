#include "server/runs/run_steps.hpp"

#include <poll.h>

#include <utility>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/prices.hpp"
#include "common/strings.hpp"
#include "common/task.hpp"
#include "common/usage.hpp"
#include "server/runs/budgets.hpp"
#include "server/runs/task_builder.hpp"

namespace berth::runs {

namespace {
using clock = std::chrono::steady_clock;
constexpr int after_stop_drain_ms = 10000;

int option_int(const nlohmann::json& o, const char* k, int fallback) {
  auto it = o.find(k);
  return it != o.end() && it->is_number_integer() ? it->get<int>() : fallback;
}
}  // namespace

run_steps::run_steps(const config& c, journal& j, docker_executor::active_run& a, store::run_record rec,
                     std::function<void()> release, token_registry& tokens)
    : cfg_(c), journal_(j), a_(a), rec_(std::move(rec)), seq_(rec_.last_seq), release_(std::move(release)),
      tokens_(tokens), used_(usage_from_json(parse_json(rec_.usage))) {
  auto opts = parse_json(rec_.options);
  if (!opts.is_object()) opts = nlohmann::json::object();
  timeout_s_ = option_int(opts, "timeout_s", cfg_.run_timeout_s);
  idle_s_ = option_int(opts, "idle_timeout_s", cfg_.idle_timeout_s);
}

void run_steps::mark_starting() {
  store::run_update u;
  u.status = "starting";
  emit({{"status", {{"status", "starting"}}}}, u);
}

bool run_steps::read_rest(docker::unix_stream& s, output_pump& p, std::chrono::seconds limit) {
  const auto give_up = clock::now() + limit;
  std::vector<draft> drafts;
  for (;;) {
    if (!s.has_buffered()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - clock::now()).count();
      pollfd f{s.fd(), POLLIN, 0};
      if (left <= 0 || ::poll(&f, 1, static_cast<int>(left)) == 0) return false;
    }
    auto rd = s.read();
    drafts.clear();
    if (!rd.data.empty() && !p.feed(rd.data, drafts)) return true;  // corrupt: nothing more to read from it
    if (!drafts.empty()) emit(std::move(drafts), p.progress());
    if (rd.eof) return true;
  }
}

void run_steps::mark_running(const std::string& worker_id) {
  store::run_update u;
  u.status = "running";
  u.container_id = worker_id;
  u.started_at = now_ms();
  rec_.started_at = u.started_at;
  emit({{"status", {{"status", "running"}}}}, u);
}

std::string run_steps::task_line() const {
  auto tools = journal_.db().user_setting(rec_.user, "tools");
  return serialize_task(build_task(cfg_, rec_, tokens_.token_of(rec_.id), tools ? parse_json(*tools) : nlohmann::json(nullptr)));
}

output_pump run_steps::make_pump() const {
  output_pump p(cfg_.max_output_bytes, static_cast<std::size_t>(cfg_.max_line_bytes), rec_, engine_secrets(cfg_));
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
  return p;
}

const char* run_steps::stop_name() const {
  switch (stop_) {
    case stop_request::cancel: return "cancel";
    case stop_request::run_timeout: return "run timeout";
    case stop_request::disk_limit: return "workspace over its limit";
    case stop_request::idle_timeout: return "idle timeout";
    case stop_request::none: break;
  }
  return "none";
}

void run_steps::request_stop(stop_request why, int limit_s) {
  if (stop_ != stop_request::none) return;
  stop_ = why;
  stop_limit_s_ = limit_s;
  log::info("stopping worker", {{"run", rec_.id}, {"why", stop_name()}});
  stop_worker();
}

void run_steps::pump(docker::unix_stream& s, output_pump& p) {
  using namespace std::chrono;
  const std::int64_t started = rec_.started_at.value_or(now_ms());
  auto idle_deadline = clock::now() + seconds(idle_s_);
  auto stopped_at = clock::time_point{};
  auto next_poll = clock::now() + milliseconds(poll_worker_ms_);
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
      const bool polling = poll_worker_ms_ > 0;
      if (polling) wait = std::min(wait, duration_cast<milliseconds>(next_poll - now));
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
        // Which deadline came (poll's milliseconds may wake it a little early: then none has, and it waits on).
        now = clock::now();
        if (stop_ != stop_request::none && now >= stopped_at + milliseconds(after_stop_drain_ms)) break;  // stopped, yet the stream did not end
        run_left = milliseconds(started + std::int64_t{timeout_s_} * 1000 - now_ms());
        idle_left = duration_cast<milliseconds>(idle_deadline - now);
        if (stop_ == stop_request::none && (run_left.count() <= 0 || idle_left.count() <= 0)) {
          if (run_left <= idle_left) request_stop(stop_request::run_timeout, timeout_s_);
          else request_stop(stop_request::idle_timeout, idle_s_);
          stopped_at = clock::now();
          continue;
        }
        if (polling && now >= next_poll) {
          if (worker_ended()) break;
          next_poll = clock::now() + milliseconds(poll_worker_ms_);
        }
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
}

bool run_steps::await_worker_end(std::chrono::seconds limit) {
  const auto give_up = clock::now() + limit;
  for (;;) {
    if (worker_ended()) return true;
    if (a_.detach) throw detach_signal{};
    if (clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // an API's state, asked a few times a second
  }
}

void run_steps::end_output(output_pump& p) {
  std::vector<draft> drafts;
  p.finish(drafts);
  if (!drafts.empty()) emit(std::move(drafts), p.progress());
}

void run_steps::store_end(outcome o, std::optional<int> code) {
  tokens_.close(rec_.id, a_.token_opening);
  flush_notes();
  // The agent was cut off from the model by its user's budget: whatever it made of that, the run failed.
  if (!refused_.empty() && (o.end == run_end::succeeded || o.end == run_end::failed)) o = {run_end::failed, "budget exceeded: " + refused_};
  journal_.finish(rec_.id, seq_, o.end, o.reason, code);
  release_();
  log::info("run finished", {{"run", rec_.id}, {"status", std::string(name_of(o.end))}, {"exit_code", code ? std::to_string(*code) : "-"}, {"reason", o.reason}});
}

run_steps::ending run_steps::run() {
  bool started = false;
  const bool fresh = rec_.status == "queued";
  try {
    docker::unix_stream s = fresh ? begin_fresh() : resume();
    started = true;
    output_pump p = make_pump();
    if (auto why = a_.stop_why.load(); why != stop_request::none) request_stop(why, 0);
    pump(s, p);
    after_output(s, p);
    end_output(p);
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
      emit({{"status", {{"status", "queued"}, {"reason", std::string(engine_name()) + " engine unavailable; waiting for it"}}}}, u);
      undo_start();
      log::warn("engine unavailable; run requeued", {{"run", rec_.id}, {"engine", engine_name()}, {"error", e.what()}});
      return ending::requeued;
    }
    finish_without_worker(run_end::failed, std::string(engine_name()) + ": " + e.what());
  } catch (const run_lost& e) {
    finish_without_worker(run_end::lost, e.what());
  } catch (const std::exception& e) {
    if (store::is_store_error(e)) throw;  // the database failed, not the run: leave it active for recovery
    finish_without_worker(run_end::failed, std::string("berthd: ") + e.what());
  }
  return ending::finished;
}

void run_steps::finish_with(output_pump& p, const worker_end& e) {
  outcome o;
  std::optional<int> code;
  auto& f = p.facts();
  if (stop_ != stop_request::none || e.deadline) {
    f.requested = stop_ != stop_request::none ? stop_ : stop_request::run_timeout;
    f.timeout_s = stop_ != stop_request::none ? stop_limit_s_ : timeout_s_;
    o = classify_exit(f);
  } else if (e.not_started) {
    o = {run_end::failed, e.reason};
  } else if (e.lost || !e.exit_code) {
    o = {run_end::lost, e.reason.empty() ? "the worker ended without an exit code" : e.reason};
  } else {
    f.exit_code = *e.exit_code;
    f.oom_killed = e.oom_killed;
    code = e.exit_code;
    o = classify_exit(f);
  }
  if (!stop_error_.empty()) o.reason += (o.reason.empty() ? "" : "; ") + std::string("stopping the worker failed: ") + stop_error_;
  store_end(o, code);
  remove_worker();
}

void run_steps::finish_without_worker(run_end end, const std::string& reason) {
  log::warn("run ended without a worker exit", {{"run", rec_.id}, {"status", std::string(name_of(end))}, {"reason", reason}});
  store_end({end, reason}, std::nullopt);
  remove_worker();
}

void run_steps::flush_notes() {
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

}  // namespace berth::runs
