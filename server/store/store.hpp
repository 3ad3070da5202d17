// Durable state: runs and their events, the outbox, logins, and what several instances share. One store over
// either database (sql.hpp): SQLite under BERTH_DATA_DIR by default, PostgreSQL when BERTH_DATABASE_URL names
// one. Every method blocks and is safe from any thread but an I/O thread. Events and the run row change in one
// transaction, so a run's progress (last seq, output offsets) and its stored events never disagree, even after
// kill -9. On PostgreSQL each commit of events is announced (NOTIFY) so other instances can stream them.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/event.hpp"
#include "server/store/sql.hpp"

namespace berth::store {

struct run_record {
  std::string id;
  std::string user;
  std::string engine;
  std::string session;
  std::string model;
  std::string message;
  std::string options = "{}";  // JSON text
  std::string status;
  std::optional<int> exit_code;
  std::string reason;
  std::int64_t created_at = 0;  // ms since epoch
  std::optional<std::int64_t> started_at;
  std::optional<std::int64_t> finished_at;
  std::string container_id;
  std::int64_t last_seq = 0;
  std::int64_t stdout_offset = 0;  // bytes of worker stdout already turned into stored events
  std::int64_t stderr_offset = 0;
  std::int64_t output_bytes = 0;
  bool truncated = false;
  std::string usage;  // JSON (common/usage.hpp) as the gateway metered it; empty: nothing metered
  std::string owner;  // the node (one berthd process) that follows the run or claimed it; empty: nobody yet
  std::string trigger;  // schedule:<id>, heartbeat:<user>, github:<delivery>; empty: a request
  std::optional<std::int64_t> scheduled_for;  // the firing a scheduled run stands for (ms since epoch)
  std::string worker_node;  // the cluster node its worker ran on (Swarm, Kubernetes); empty: this host's engine
};

// A schedule (server/schedule): an ordinary run of `message` for `user` at each firing of `cron` (in
// `timezone`) or every `interval_s`. kind `heartbeat` is a user's heartbeat (its replies go to `replies`).
struct schedule_record {
  std::string id;
  std::string user;
  std::string kind = "schedule";
  std::string message;
  std::string engine;
  std::string session;
  std::string model;
  std::string options = "{}";
  std::string cron;
  std::int64_t interval_s = 0;
  std::string timezone = "UTC";
  std::string missed = "skip";  // skip | once
  std::string replies = "[]";   // JSON [{kind, target}]
  bool paused = false;
  std::int64_t next_at = 0;  // ms since epoch
  std::int64_t created_at = 0;
};

// Moves a schedule from one firing to the next, only if it still stands at `expected` (compare-and-set):
// two instances, or a restart, never fire the same firing twice.
struct schedule_step {
  std::string id;
  std::int64_t expected = 0;
  std::int64_t next = 0;
};

// Fields to change on a run together with appended events; unset fields stay as they are.
// What a run's user spent, added to their day's total (spend_daily) with the run's usage.
struct spend_delta {
  std::string day;  // UTC, 2026-12-04
  std::int64_t tokens = 0;
  std::int64_t cost_micros = 0;
};

struct user_spend {
  std::string user;
  std::string day;
  std::int64_t tokens = 0;
  std::int64_t cost_micros = 0;
};

struct run_update {
  std::optional<std::string> status;
  std::optional<int> exit_code;
  std::optional<std::string> reason;
  std::optional<std::int64_t> started_at;
  std::optional<std::int64_t> finished_at;
  std::optional<std::string> container_id;
  std::optional<std::string> worker_node;
  std::optional<std::int64_t> stdout_offset;
  std::optional<std::int64_t> stderr_offset;
  std::optional<std::int64_t> output_bytes;
  std::optional<bool> truncated;
  std::optional<std::string> usage;
  std::optional<spend_delta> spend;
};

// An outbound reply (Slack, Telegram, callback), written before it is sent. `waiting` until its run ends,
// then `pending` (sent, retried with backoff until `deadline_at`), finally `delivered` or `failed`.
struct delivery_record {
  std::int64_t id = 0;
  std::string run;
  std::string kind;    // slack | telegram | callback
  std::string target;  // JSON: where it goes (no secrets)
  std::string state = "waiting";
  std::string payload;  // JSON, filled when the run ends
  int attempts = 0;
  std::int64_t next_at = 0;
  std::int64_t deadline_at = 0;
  std::string last_error;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> delivered_at;
};

// `quiet`: a heartbeat run answered HEARTBEAT_OK, so its reply is kept back on purpose.
inline constexpr std::array<std::string_view, 5> delivery_states = {"waiting", "pending", "delivered", "failed", "quiet"};

struct delivery_update {
  std::optional<std::string> only_if_state;  // a condition: change nothing unless the delivery is in this state
  std::optional<std::string> state;
  std::optional<std::string> target;
  std::optional<std::string> payload;
  std::optional<int> attempts;
  std::optional<std::int64_t> next_at;
  std::optional<std::int64_t> deadline_at;
  std::optional<std::string> last_error;
  std::optional<std::int64_t> delivered_at;
};

inline constexpr std::int64_t abandoned_claim_ms = 30000;

struct run_filter {
  std::string user{};
  std::vector<std::string> user_patterns{};  // only these users (names, or prefixes ending in '*'); empty: all
  std::string status{};
  std::string before{};  // run id cursor: runs strictly older
  std::int64_t since_ms = 0;  // created at or after (0: no bound)
  std::int64_t until_ms = 0;  // created before (0: no bound)
  int limit = 50;
};

// True for a failure of the database itself (locked, I/O, unreachable, full disk) as opposed to a caller's
// mistake: the runs layer leaves a run active for recovery on these instead of failing it.
bool is_store_error(const std::exception& e);

// A write to a run its caller no longer owns (another instance adopted it): the caller stops following it.
class ownership_lost : public sql::error {
 public:
  using sql::error::error;
};

// Caps that hold across every instance on the database (BERTH_MAX_CONCURRENT, BERTH_MAX_PER_USER).
struct claim_caps {
  int max_concurrent = 1;
  int max_per_user = 1;
  int limit = 64;  // most runs claimed in one call
};

// Channels announced on PostgreSQL (payloads stay small).
inline constexpr const char* events_channel = "berth_events";  // "<node> <run> <first seq> <last seq>"
inline constexpr const char* queue_channel = "berth_queue";    // a run queued or ended: slots may have changed
inline constexpr const char* cancel_channel = "berth_cancel";  // "<run>": its owner should stop it

struct stored_login {
  std::string csrf;
  std::optional<std::string> users;  // JSON array of the login key's scope; none: every user
  std::int64_t expires_at = 0;
};

class store {
 public:
  // A file path (":memory:" for tests) for SQLite, or a postgres:// / postgresql:// URL.
  explicit store(const std::string& path_or_url);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  sql::dialect kind() const { return db_->kind(); }
  // True when other instances may share this database (PostgreSQL).
  bool shared() const { return kind() == sql::dialect::postgres; }
  const std::string& url() const { return url_; }
  // The node whose writes this store announces (set once at start; tests may leave it empty).
  void set_node(std::string node) { node_ = std::move(node); }
  const std::string& node() const { return node_; }

  int schema_version();
  std::string meta(const std::string& key);  // empty when unset
  void set_meta(const std::string& key, const std::string& value);
  // Stores `value` unless the key has one already; returns the stored value either way (first writer wins).
  std::string meta_or_set(const std::string& key, const std::string& value);

  // Inserts the run, its first event and its reply deliveries (state `waiting`) atomically. With `step`, the
  // schedule moves on in the same transaction; false (and nothing stored) when it had moved on already.
  bool insert_run(const run_record& r, const event& first, const std::vector<delivery_record>& replies = {},
                  const std::optional<schedule_step>& step = std::nullopt);
  // Appends events (seqs must continue the run's last_seq without gaps) and applies `u`, atomically. With a
  // node set, the run must be owned by it (ownership_lost otherwise): only a run's owner writes its events.
  void commit(const std::string& run, const std::vector<event>& events, const run_update& u);

  std::optional<run_record> get_run(const std::string& id);
  std::optional<run_record> run_by_container(const std::string& container_id);
  std::vector<run_record> list_runs(const run_filter& f);  // message: its first 256 characters only
  std::vector<run_record> runs_in_status(const std::vector<std::string>& statuses);  // oldest first
  std::optional<std::int64_t> last_run_ms(const std::string& user);  // creation time of the user's newest run
  std::vector<event> events_after(const std::string& run, std::int64_t after_seq, int limit);
  std::int64_t count_events();
  // Number of runs in each status that has any (the dashboard's counts); `users` limits them.
  std::vector<std::pair<std::string, std::int64_t>> count_by_status(const std::vector<std::string>& users = {});

  // Per-user instructions (the workspace's CLAUDE.md). Empty text: none.
  void set_instructions(const std::string& user, const std::string& text, std::int64_t now);
  std::optional<std::string> instructions(const std::string& user);
  bool delete_instructions(const std::string& user);
  // Per-user settings, a JSON text per kind ("budget", "tools"), and spend per UTC day (settings_store.cpp).
  void set_user_setting(const std::string& user, const std::string& kind, const std::string& value, std::int64_t now);
  std::optional<std::string> user_setting(const std::string& user, const std::string& kind);
  bool delete_user_setting(const std::string& user, const std::string& kind);
  std::vector<std::pair<std::string, std::string>> user_settings_of(const std::string& kind);  // (user, value)
  std::vector<user_spend> spend_on(const std::string& day);
  // Files kept in the database (BERTH_STORAGE=postgres): text only (callers encode bytes), keyed by path.
  void put_file(const std::string& key, const std::string& content, std::int64_t now);
  std::optional<std::string> file(const std::string& key);
  bool delete_file(const std::string& key);
  std::vector<std::string> file_keys(const std::string& prefix);  // sorted
  // A user's runs that named a session, oldest first (for the sessions listing).
  std::vector<run_record> session_runs(const std::string& user, int limit);
  bool ping();

  // Several instances (cluster_store.cpp). A node is one berthd process; it is alive while its heartbeat is
  // younger than the lease. SQLite has one node at a time, and a lease of 0 hands a previous one's runs over.
  void heartbeat(const std::string& node, std::int64_t now_ms);
  void forget_node(const std::string& node);  // a clean stop: its runs may be adopted at once
  // Runs waiting in the queue that nobody claimed.
  std::int64_t count_waiting();
  // Claims the oldest queued runs the caps allow (counted over every instance), in one serialized transaction.
  std::vector<run_record> claim_queued(const std::string& node, const claim_caps& caps);
  // Puts a claimed run back in the queue (the engine went away before it started).
  void release_claim(const std::string& run, const std::string& node);
  // A queued run taken out of the queue by `node` to be cancelled; false when someone claimed it first.
  bool claim_for_cancel(const std::string& run, const std::string& node);
  // Active runs nobody alive follows: unowned, owned by a node whose lease ran out, and (with `own`) owned by
  // `node` itself (its thread let go of it on a store failure).
  std::vector<std::string> adoptable_runs(const std::string& node, std::int64_t now_ms, std::int64_t lease_ms, bool own = true);
  // Takes an active run over when it is adoptable; true when `node` owns it now.
  bool take_over(const std::string& run, const std::string& node, std::int64_t now_ms, std::int64_t lease_ms);
  // Queued runs claimed by dead nodes go back to the queue; returns how many.
  int release_dead_claims(const std::string& node, std::int64_t now_ms, std::int64_t lease_ms);
  // Asks the run's owner to stop it (the owner learns it from cancel_channel or its next heartbeat).
  void request_cancel(const std::string& run);
  std::vector<std::string> cancel_requests(const std::string& node);
  // Live nodes (heartbeat within the lease), for the health page.
  std::vector<std::pair<std::string, std::int64_t>> live_nodes(std::int64_t now_ms, std::int64_t lease_ms);

  // Dashboard logins, shared by every instance (cluster_store.cpp); keyed by a hash of the cookie's token.
  void put_login(const std::string& token_hash, const stored_login& l, std::int64_t now_ms, std::size_t max_logins);
  std::optional<stored_login> find_login(const std::string& token_hash, std::int64_t now_ms);
  void remove_login(const std::string& token_hash);
  std::int64_t count_logins(std::int64_t now_ms);

  // Schedules (schedule_store.cpp).
  void insert_schedule(const schedule_record& s);
  std::optional<schedule_record> get_schedule(const std::string& id);
  // `users` (names, or prefixes ending in '*') limits them; `user` non-empty: that user's only.
  std::vector<schedule_record> list_schedules(const std::string& user, const std::vector<std::string>& users = {});
  bool delete_schedule(const std::string& id);
  bool set_schedule_paused(const std::string& id, bool paused, std::int64_t next_at);
  std::vector<schedule_record> due_schedules(std::int64_t now_ms, int limit);
  std::optional<std::int64_t> next_schedule_at();
  bool advance_schedule(const schedule_step& step);  // compare-and-set; false: someone else moved it

  // The outbox (outbox_store.cpp).
  std::vector<delivery_record> waiting_deliveries_of_finished_runs(int limit);
  // Pending deliveries that are due, claimed for `node` for `lease_ms` (another instance skips them meanwhile).
  // A claim is also void once its node is dead (heartbeat older than `node_lease_ms`; 0 on SQLite: any other node).
  std::vector<delivery_record> claim_due_deliveries(const std::string& node, std::int64_t now_ms, std::int64_t lease_ms, int limit,
                                                    std::int64_t node_lease_ms = 0);
  std::vector<delivery_record> due_deliveries(std::int64_t now_ms, int limit);
  std::optional<std::int64_t> next_delivery_at();
  void update_delivery(std::int64_t id, const delivery_update& u);
  std::vector<delivery_record> deliveries_of_run(const std::string& run);
  // Newest first; `users` (names, or prefixes ending in '*') limits them to those users' runs.
  std::vector<delivery_record> list_deliveries(const std::string& state, int limit,
                                               const std::vector<std::string>& users = {});
  std::vector<std::pair<std::string, std::int64_t>> count_deliveries_by_state(const std::vector<std::string>& users = {});
  // Chat event de-duplication: true when (source, id) is new and now claimed, or when an earlier claim never
  // got its run linked within abandoned_claim_ms (its berthd died in between): a retry must not be lost.
  bool claim_chat_event(const std::string& source, const std::string& id, std::int64_t now_ms);
  void link_chat_event(const std::string& source, const std::string& id, const std::string& run);

  // The database underneath, for the migration tool and tests.
  sql::database& database() { return *db_; }

 private:
  std::vector<delivery_record> query_deliveries(const std::string& where, const sql::params& p);
  std::unique_ptr<sql::database> db_;
  std::string url_;
  std::string node_;
};

}  // namespace berth::store
