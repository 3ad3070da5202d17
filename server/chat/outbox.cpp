#include "server/chat/outbox.hpp"

#include <algorithm>
#include <random>

#include <nlohmann/json.hpp>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/chat/inbound.hpp"
#include "server/chat/senders.hpp"
#include "server/chat/signing.hpp"

namespace berth::chat {
namespace {
using json = nlohmann::json;

constexpr std::size_t chunk_bytes = 3900;         // under Telegram's 4096 characters and Slack's 4000
constexpr std::size_t max_reply_bytes = 40000;    // a reply longer than this is cut, with a note
constexpr std::int64_t max_backoff_ms = 300000;   // 5 minutes between attempts at most
constexpr int batch = 50;
constexpr std::int64_t send_claim_ms = 120000;  // longer than any one send (its HTTP timeouts)
constexpr auto idle_wait = std::chrono::seconds(5);
constexpr std::string_view working_note = "⏳ berth is working on it…";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// What the run said: the agent's final `result` text, else its streamed text; a run that did not succeed says
// so and why.
std::string reply_text(store::store& s, const store::run_record& run) {
  std::string streamed, result;
  for (std::int64_t after = 0;;) {
    auto events = s.events_after(run.id, after, 1000);
    for (const auto& e : events) {
      after = e.seq;
      if (e.type != "text" && e.type != "result") continue;
      auto j = parse_json(e.data);
      if (!j.is_object()) continue;
      if (e.type == "text" && streamed.size() < max_reply_bytes) streamed += j.value("text", "");
      if (e.type == "result") result = j.value("text", "");
    }
    if (events.size() < 1000) break;
  }
  std::string text = result.empty() ? streamed : result;
  if (text.size() > max_reply_bytes) text = split_message(text, max_reply_bytes).front() + "\n[berth: reply cut at 40 KB]";
  if (run.status != "succeeded") {
    std::string note = "[berth] the run ended " + run.status + (run.reason.empty() ? "" : ": " + run.reason);
    text = text.empty() ? note : text + "\n\n" + note;
  }
  return text.empty() ? "(no reply)" : text;
}

json payload_for(const store::delivery_record& d, store::store& s, const store::run_record& run) {
  if (d.kind == "callback") {
    return {{"body",
             {{"run", run.id}, {"user", run.user}, {"session", run.session}, {"status", run.status},
              {"exit_code", run.exit_code ? json(*run.exit_code) : json(nullptr)}, {"reason", run.reason},
              {"text", reply_text(s, run)}, {"finished_at", run.finished_at ? format_time_ms(*run.finished_at) : ""},
              {"delivery", d.id}}}};
  }
  return {{"chunks", split_message(reply_text(s, run), chunk_bytes)}, {"sent", 0}};
}

std::int64_t backoff_ms(int attempts, int base_ms) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::int64_t d = base_ms;
  for (int i = 1; i < attempts && d < max_backoff_ms; ++i) d *= 2;
  d = std::min(d, max_backoff_ms);
  std::uniform_int_distribution<std::int64_t> jitter(0, d / 2);
  return d / 2 + jitter(rng);  // "equal jitter": between half and all of the exponential delay
}

// Where a chat run's progress message is recorded in its delivery target (Slack ts / Telegram message id /
// GitHub comment id).
const char* progress_key(const std::string& kind) {
  return kind == "slack" ? "progress_ts" : kind == "github" ? "comment_id" : "progress_id";
}

// The reference of the message a successful post created (Slack ts / Telegram message id / GitHub comment id).
json posted_ref(const std::string& kind, const json& answer) {
  if (kind == "slack") return answer.value("ts", "");
  if (kind == "github") return answer.value("id", json(nullptr));
  return answer.contains("result") && answer["result"].is_object() ? answer["result"].value("message_id", json(nullptr))
                                                                  : json(nullptr);
}

// Says `text` in the delivery's Slack thread or Telegram chat: edits the run's progress message when `edit`
// and there is one, else posts a new message (answering the user's own message when `as_reply`).
send_result say(const config& c, const std::string& kind, const json& target, const std::string& text, bool edit,
                bool as_reply) {
  const char* ref = progress_key(kind);
  edit = edit && target.contains(ref);
  send_result r;
  if (kind == "slack") {
    json body = {{"channel", target.value("channel", "")}, {"text", text}};
    if (edit) body["ts"] = target[ref];
    else if (!target.value("thread_ts", "").empty()) body["thread_ts"] = target.value("thread_ts", "");
    r = slack_call(c, edit ? "chat.update" : "chat.postMessage", body);
  } else if (kind == "github") {
    // A comment on the issue or pull request; edits change that comment in place.
    const auto repo = target.value("repo", "");
    r = edit ? github_call(c, "PATCH", "/repos/" + repo + "/issues/comments/" + target[ref].dump(), {{"body", text}})
             : github_call(c, "POST", "/repos/" + repo + "/issues/" + std::to_string(target.value("issue", 0)) + "/comments",
                           {{"body", text}});
  } else {
    json body = {{"chat_id", target.value("chat_id", json(nullptr))}, {"text", text}};
    if (edit) body["message_id"] = target[ref];
    else if (as_reply && target.contains("reply_to"))
      body["reply_parameters"] = {{"message_id", target["reply_to"]}, {"allow_sending_without_reply", true}};
    r = telegram_call(c, edit ? "editMessageText" : "sendMessage", body);
  }
  return r;
}

// Sends the chunks not sent yet, recording progress after each so a retry never repeats one. The first chunk
// replaces the progress message when the run had one.
send_result send_chat(const config& c, store::store& s, const store::delivery_record& d) {
  auto target = parse_json(d.target);
  auto payload = parse_json(d.payload);
  if (!target.is_object() || !payload.is_object()) return {.permanent = true, .error = "corrupt delivery row"};
  auto chunks = payload.value("chunks", std::vector<std::string>{});
  for (std::size_t i = payload.value("sent", std::size_t{0}); i < chunks.size(); ++i) {
    auto r = say(c, d.kind, target, chunks[i], i == 0, i == 0);
    if (!r.ok) return r;
    payload["sent"] = i + 1;
    store::delivery_update u;
    u.payload = dump(payload);
    s.update_delivery(d.id, u);
  }
  return {.ok = true};
}

send_result send_callback(const config& c, const store::delivery_record& d) {
  auto target = parse_json(d.target);
  auto payload = parse_json(d.payload);
  if (!target.is_object() || !payload.is_object()) return {.permanent = true, .error = "corrupt delivery row"};
  std::string key;
  for (const auto& k : c.api_keys)
    if (key_id(k) == target.value("key_id", "")) key = k;
  if (key.empty()) return {.permanent = true, .error = "the API key that started this run is no longer configured; no secret to sign with"};
  const std::int64_t now_s = now_ms() / 1000;
  auto body = payload["body"];
  body["timestamp"] = now_s;  // the same value as X-Berth-Timestamp, and covered by the signature
  auto text = dump(body);
  return callback_post(target.value("url", ""), text, callback_signature(callback_secret(key), text),
                       std::to_string(now_s), d.id);
}
}  // namespace

outbox::outbox(const config& c, store::store& s, runs::event_bus& bus) : cfg_(c), store_(s), bus_(bus) {}

outbox::~outbox() { stop(); }

void outbox::start() { thread_ = std::thread([this] { loop(); }); }

void outbox::stop() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(m_);
  for (auto& [run, t] : tracked_) bus_.unsubscribe(run, t.sub);
  tracked_.clear();
}

void outbox::notify() {
  {
    std::lock_guard lock(m_);
    kicked_ = true;
  }
  cv_.notify_all();
}

void outbox::track(const std::string& run) {
  auto sub = bus_.subscribe(run, [] {});  // drained on the outbox's own schedule
  {
    std::lock_guard lock(m_);
    tracked_[run].sub = std::move(sub);
    kicked_ = true;  // an idle loop sleeps 5 s; progress must start at the chat update rate
  }
  cv_.notify_all();
}

void outbox::loop() {
  for (;;) {
    try {
      finalize_waiting();
      send_due();
      progress();
    } catch (const std::exception& e) {
      log::error("outbox round failed; retrying", {{"error", e.what()}});
    }
    std::unique_lock lock(m_);
    if (stop_) return;
    auto wait = tracked_.empty() ? std::chrono::milliseconds(idle_wait) : std::chrono::milliseconds(cfg_.chat_update_ms);
    lock.unlock();
    try {
      if (auto next = store_.next_delivery_at())
        wait = std::min(wait, std::chrono::milliseconds(std::max<std::int64_t>(0, *next - now_ms())));
    } catch (const std::exception&) {
      // the database does not answer: the round above said so; try again after the usual wait
    }
    lock.lock();
    cv_.wait_for(lock, wait, [this] { return stop_ || kicked_; });
    kicked_ = false;
    if (stop_) return;
  }
}

void outbox::finalize_waiting() {
  for (const auto& d : store_.waiting_deliveries_of_finished_runs(batch)) {
    auto run = store_.get_run(d.run);
    if (!run) continue;
    auto now = now_ms();
    store::delivery_update u;
    if (run->trigger.starts_with("heartbeat:") && trim(reply_text(store_, *run)) == "HEARTBEAT_OK") {
      u.state = "quiet";  // nothing needs attention: the heartbeat says nothing
      u.only_if_state = "waiting";
      store_.update_delivery(d.id, u);
      log::info("heartbeat answered HEARTBEAT_OK; nothing sent", {{"run", run->id}, {"user", run->user}});
      continue;
    }
    u.payload = dump(payload_for(d, store_, *run));
    u.state = "pending";
    u.next_at = now;
    u.deadline_at = now + static_cast<std::int64_t>(cfg_.delivery_deadline_s) * 1000;
    u.only_if_state = "waiting";  // another instance may have finalized (and even sent) it meanwhile
    store_.update_delivery(d.id, u);
  }
}

void outbox::send_due() {
  // Claimed: with several instances on one database, exactly one sends each delivery (another takes it over
  // only if this one dies mid-send and its claim runs out).
  const std::int64_t node_lease_ms = store_.shared() ? static_cast<std::int64_t>(cfg_.lease_s) * 1000 : 0;
  for (const auto& d : store_.claim_due_deliveries(cfg_.node_id, now_ms(), send_claim_ms, batch, node_lease_ms)) {
    {
      std::lock_guard lock(m_);
      if (stop_) return;
    }
    send_result r = d.kind == "callback" ? send_callback(cfg_, d) : send_chat(cfg_, store_, d);
    auto now = now_ms();
    store::delivery_update u;
    u.attempts = d.attempts + 1;
    if (r.ok) {
      u.state = "delivered";
      u.delivered_at = now;
      u.last_error = "";
      log::info("reply delivered", {{"delivery", std::to_string(d.id)}, {"run", d.run}, {"kind", d.kind},
                                    {"attempts", std::to_string(d.attempts + 1)}});
    } else {
      u.last_error = r.error;
      auto next = now + std::max(backoff_ms(d.attempts + 1, cfg_.delivery_backoff_ms), r.retry_after_ms);
      if (r.permanent || next > d.deadline_at) {
        u.state = "failed";
        log::error(r.permanent ? "reply failed for good" : "reply not delivered before its deadline; giving up",
                   {{"delivery", std::to_string(d.id)}, {"run", d.run}, {"kind", d.kind}, {"error", r.error}});
      } else {
        u.next_at = next;
        log::warn("reply delivery failed; will retry",
                  {{"delivery", std::to_string(d.id)}, {"run", d.run}, {"kind", d.kind}, {"error", r.error},
                   {"retry_in_ms", std::to_string(next - now)}});
      }
    }
    store_.update_delivery(d.id, u);
  }
}

void outbox::progress() {
  std::vector<std::string> runs;
  {
    std::lock_guard lock(m_);
    for (const auto& [run, t] : tracked_) runs.push_back(run);
  }
  for (const auto& run : runs) {
    tracked* t;
    {
      std::lock_guard lock(m_);
      t = &tracked_.at(run);  // only this thread erases entries
    }
    progress_one(run, *t);
    if (t->done) {
      std::lock_guard lock(m_);
      bus_.unsubscribe(run, t->sub);
      tracked_.erase(run);
    }
  }
}

void outbox::progress_one(const std::string& run, tracked& t) {
  std::vector<runs::event_ptr> events;
  if (!t.sub->drain(events)) {
    t.done = true;  // fell behind a flood: the final reply still comes
    return;
  }
  for (const auto& e : events) {
    if (e->type == "done") t.done = true;
    if (e->type != "text") continue;
    auto j = parse_json(e->data);
    if (j.is_object() && t.text.size() < chunk_bytes) {
      t.text += j.value("text", "");
      t.dirty = true;
    }
  }
  auto now = now_ms();
  if (t.done || !t.dirty || now - t.last_update_ms < cfg_.chat_update_ms) return;
  const auto deliveries = store_.deliveries_of_run(run);
  // Before any text only a GitHub reply has something to post (its progress comment).
  if (t.text.empty() && std::none_of(deliveries.begin(), deliveries.end(), [](const auto& d) { return d.kind == "github"; }))
    return;
  for (const auto& d : deliveries) {
    if (d.state != "waiting" || (d.kind != "slack" && d.kind != "telegram" && d.kind != "github")) continue;
    if (t.text.empty() && d.kind != "github") continue;
    auto target = parse_json(d.target);
    if (!target.is_object()) continue;
    std::string shown = t.text.empty() ? std::string(working_note) : split_message(t.text, chunk_bytes - 4).front() + " …";
    auto r = say(cfg_, d.kind, target, shown, true, true);
    if (!r.ok) {
      log::warn("progress update failed (the final reply is still owed)", {{"run", run}, {"error", r.error}});
      continue;
    }
    const char* ref = progress_key(d.kind);
    if (target.contains(ref)) continue;  // an edit: the target already names the message
    target[ref] = posted_ref(d.kind, r.answer);
    store::delivery_update u;
    u.target = dump(target);
    store_.update_delivery(d.id, u);
  }
  t.dirty = false;
  t.last_update_ms = now;
}

}  // namespace berth::chat
