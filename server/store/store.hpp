// Durable state: runs and their events in SQLite (WAL). One writer connection behind a mutex and one reader
// connection (WAL lets reads run beside the writer). Every method blocks and is safe from any thread but an
// I/O thread. Events and the run row change in one transaction, so a run's progress (last seq, output
// offsets) and its stored events never disagree, even after kill -9.
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

namespace SQLite { class Database; class Statement; }

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
};

// Fields to change on a run together with appended events; unset fields stay as they are.
struct run_update {
  std::optional<std::string> status;
  std::optional<int> exit_code;
  std::optional<std::string> reason;
  std::optional<std::int64_t> started_at;
  std::optional<std::int64_t> finished_at;
  std::optional<std::string> container_id;
  std::optional<std::int64_t> stdout_offset;
  std::optional<std::int64_t> stderr_offset;
  std::optional<std::int64_t> output_bytes;
  std::optional<bool> truncated;
  std::optional<std::string> usage;
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

inline constexpr std::array<std::string_view, 4> delivery_states = {"waiting", "pending", "delivered", "failed"};

struct delivery_update {
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

// True for a failure of the database itself (locked, I/O, full disk) as opposed to a caller's mistake: the
// runs layer leaves a run active for recovery on these instead of failing it.
bool is_store_error(const std::exception& e);

class store {
 public:
  explicit store(const std::string& path);  // ":memory:" for tests
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  int schema_version();
  std::string meta(const std::string& key);  // empty when unset
  void set_meta(const std::string& key, const std::string& value);

  // Inserts the run, its first event and its reply deliveries (state `waiting`) atomically.
  void insert_run(const run_record& r, const event& first, const std::vector<delivery_record>& replies = {});
  // Appends events (seqs must continue the run's last_seq without gaps) and applies `u`, atomically.
  void commit(const std::string& run, const std::vector<event>& events, const run_update& u);

  std::optional<run_record> get_run(const std::string& id);
  std::optional<run_record> run_by_container(const std::string& container_id);
  std::vector<run_record> list_runs(const run_filter& f);  // message: its first 256 characters only
  std::vector<run_record> runs_in_status(const std::vector<std::string>& statuses);  // oldest first
  std::optional<std::int64_t> last_run_ms(const std::string& user);  // creation time of the user's newest run
  std::vector<event> events_after(const std::string& run, std::int64_t after_seq, int limit);
  std::int64_t count_events();
  // Number of runs in each status that has any (the dashboard's counts).
  std::vector<std::pair<std::string, std::int64_t>> count_by_status() { return group_counts("runs", "status"); }
  // The same for some users only (names, or prefixes ending in '*').
  std::vector<std::pair<std::string, std::int64_t>> count_by_status(const std::vector<std::string>& users);

  // Per-user instructions (the workspace's CLAUDE.md). Empty text: none.
  void set_instructions(const std::string& user, const std::string& text, std::int64_t now);
  std::optional<std::string> instructions(const std::string& user);
  bool delete_instructions(const std::string& user);
  // A user's runs that named a session, oldest first (for the sessions listing).
  std::vector<run_record> session_runs(const std::string& user, int limit);
  bool ping();

  // The outbox (outbox_store.cpp).
  std::vector<delivery_record> waiting_deliveries_of_finished_runs(int limit);
  std::vector<delivery_record> due_deliveries(std::int64_t now_ms, int limit);
  std::optional<std::int64_t> next_delivery_at();
  void update_delivery(std::int64_t id, const delivery_update& u);
  std::vector<delivery_record> deliveries_of_run(const std::string& run);
  // Newest first; `users` (names, or prefixes ending in '*') limits them to those users' runs.
  std::vector<delivery_record> list_deliveries(const std::string& state, int limit,
                                               const std::vector<std::string>& users = {});
  std::vector<std::pair<std::string, std::int64_t>> count_deliveries_by_state() { return group_counts("deliveries", "state"); }
  std::vector<std::pair<std::string, std::int64_t>> count_deliveries_by_state(const std::vector<std::string>& users);
  // Chat event de-duplication: true when (source, id) is new and now claimed, or when an earlier claim never
  // got its run linked within abandoned_claim_ms (its berthd died in between): a retry must not be lost.
  bool claim_chat_event(const std::string& source, const std::string& id, std::int64_t now_ms);
  void link_chat_event(const std::string& source, const std::string& id, const std::string& run);

 private:
  // `SELECT column, COUNT(*) FROM table GROUP BY column` (names are ours, never a caller's).
  std::vector<std::pair<std::string, std::int64_t>> group_counts(const char* table, const char* column);
  std::vector<delivery_record> query_deliveries(const std::string& where, const std::function<void(SQLite::Statement&)>& bind);
  std::unique_ptr<SQLite::Database> writer_;
  std::unique_ptr<SQLite::Database> reader_;  // == writer_ for ":memory:"
  SQLite::Database* reader_db_;
  std::mutex write_mutex_;
  std::mutex read_mutex_;
  bool shared_ = false;
};

// Applies every migration newer than the database's user_version, each in its own transaction.
void migrate(SQLite::Database& db);
int latest_schema_version();

}  // namespace berth::store
