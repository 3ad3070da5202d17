// The store's outbox tables: deliveries and chat event de-duplication.
#include <SQLiteCpp/SQLiteCpp.h>

#include "server/store/store.hpp"
#include "server/store/user_scope_sql.hpp"

namespace berth::store {
namespace {
constexpr const char* delivery_columns =
    "d.id, d.run_id, d.kind, d.target, d.state, d.payload, d.attempts, d.next_at, d.deadline_at, d.last_error, "
    "d.created_at, d.delivered_at";

delivery_record read_delivery(SQLite::Statement& q) {
  delivery_record d;
  d.id = q.getColumn(0).getInt64();
  d.run = q.getColumn(1).getString();
  d.kind = q.getColumn(2).getString();
  d.target = q.getColumn(3).getString();
  d.state = q.getColumn(4).getString();
  d.payload = q.getColumn(5).getString();
  d.attempts = q.getColumn(6).getInt();
  d.next_at = q.getColumn(7).getInt64();
  d.deadline_at = q.getColumn(8).getInt64();
  d.last_error = q.getColumn(9).getString();
  d.created_at = q.getColumn(10).getInt64();
  if (!q.getColumn(11).isNull()) d.delivered_at = q.getColumn(11).getInt64();
  return d;
}
}  // namespace

std::vector<delivery_record> store::query_deliveries(const std::string& where,
                                                     const std::function<void(SQLite::Statement&)>& bind) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, std::string("SELECT ") + delivery_columns + " FROM deliveries d " + where);
  bind(q);
  std::vector<delivery_record> out;
  while (q.executeStep()) out.push_back(read_delivery(q));
  return out;
}

std::vector<delivery_record> store::waiting_deliveries_of_finished_runs(int limit) {
  std::string terminal;
  for (auto t : terminal_statuses) terminal += (terminal.empty() ? "'" : ", '") + std::string(t) + "'";
  return query_deliveries("JOIN runs r ON r.id = d.run_id WHERE d.state = 'waiting' AND r.status IN (" + terminal +
                              ") ORDER BY d.id LIMIT ?",
                          [limit](SQLite::Statement& q) { q.bind(1, limit); });
}

std::vector<delivery_record> store::due_deliveries(std::int64_t now_ms, int limit) {
  return query_deliveries("WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY d.next_at, d.id LIMIT ?",
                          [=](SQLite::Statement& q) {
                            q.bind(1, now_ms);
                            q.bind(2, limit);
                          });
}

std::optional<std::int64_t> store::next_delivery_at() {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, "SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'");
  if (q.executeStep() && !q.getColumn(0).isNull()) return q.getColumn(0).getInt64();
  return std::nullopt;
}

void store::update_delivery(std::int64_t id, const delivery_update& u) {
  std::lock_guard lock(write_mutex_);
  std::string sql = "UPDATE deliveries SET id = id";
  if (u.state) sql += ", state = :state";
  if (u.target) sql += ", target = :target";
  if (u.payload) sql += ", payload = :payload";
  if (u.attempts) sql += ", attempts = :attempts";
  if (u.next_at) sql += ", next_at = :next_at";
  if (u.deadline_at) sql += ", deadline_at = :deadline_at";
  if (u.last_error) sql += ", last_error = :last_error";
  if (u.delivered_at) sql += ", delivered_at = :delivered_at";
  SQLite::Statement q(*writer_, sql + " WHERE id = :id");
  if (u.state) q.bind(":state", *u.state);
  if (u.target) q.bind(":target", *u.target);
  if (u.payload) q.bind(":payload", *u.payload);
  if (u.attempts) q.bind(":attempts", *u.attempts);
  if (u.next_at) q.bind(":next_at", *u.next_at);
  if (u.deadline_at) q.bind(":deadline_at", *u.deadline_at);
  if (u.last_error) q.bind(":last_error", *u.last_error);
  if (u.delivered_at) q.bind(":delivered_at", *u.delivered_at);
  q.bind(":id", id);
  q.exec();
}

std::vector<delivery_record> store::deliveries_of_run(const std::string& run) {
  return query_deliveries("WHERE d.run_id = ? ORDER BY d.id", [&run](SQLite::Statement& q) { q.bind(1, run); });
}

std::vector<delivery_record> store::list_deliveries(const std::string& state, int limit,
                                                    const std::vector<std::string>& users) {
  std::string where = "JOIN runs r ON r.id = d.run_id WHERE 1";
  if (!state.empty()) where += " AND d.state = :state";
  where += users_clause(users, "r.user") + " ORDER BY d.id DESC LIMIT :limit";
  return query_deliveries(where, [&](SQLite::Statement& q) {
    if (!state.empty()) q.bind(":state", state);
    bind_users(q, users);
    q.bind(":limit", limit);
  });
}

bool store::claim_chat_event(const std::string& source, const std::string& id, std::int64_t now_ms) {
  std::lock_guard lock(write_mutex_);
  // New, or claimed long ago by a berthd that died before it could store the run (no run linked): take it.
  SQLite::Statement q(*writer_,
                      "INSERT INTO chat_events (source, event_id, created_at) VALUES (?, ?, ?) "
                      "ON CONFLICT (source, event_id) DO UPDATE SET created_at = excluded.created_at "
                      "WHERE chat_events.run_id = '' AND chat_events.created_at < ?");
  q.bind(1, source);
  q.bind(2, id);
  q.bind(3, now_ms);
  q.bind(4, now_ms - abandoned_claim_ms);
  return q.exec() == 1;
}

void store::link_chat_event(const std::string& source, const std::string& id, const std::string& run) {
  std::lock_guard lock(write_mutex_);
  SQLite::Statement q(*writer_, "UPDATE chat_events SET run_id = ? WHERE source = ? AND event_id = ?");
  q.bind(1, run);
  q.bind(2, source);
  q.bind(3, id);
  q.exec();
}

}  // namespace berth::store
