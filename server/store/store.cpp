#include "server/store/store.hpp"
#include "server/store/user_scope_sql.hpp"

#include <stdexcept>

#include <SQLiteCpp/SQLiteCpp.h>

namespace berth::store {
namespace {

constexpr const char* run_columns =
    "id, user, engine, session, model, message, options, status, exit_code, reason, created_at, started_at, "
    "finished_at, container_id, last_seq, stdout_offset, stderr_offset, output_bytes, truncated, usage";
// Lists show a preview of each message: reading 500 whole 256 KiB messages per page would cost 128 MB.
constexpr const char* list_columns =
    "id, user, engine, session, model, substr(message, 1, 256), options, status, exit_code, reason, created_at, "
    "started_at, finished_at, container_id, last_seq, stdout_offset, stderr_offset, output_bytes, truncated, usage";

run_record read_run(SQLite::Statement& q) {
  run_record r;
  r.id = q.getColumn(0).getString();
  r.user = q.getColumn(1).getString();
  r.engine = q.getColumn(2).getString();
  r.session = q.getColumn(3).getString();
  r.model = q.getColumn(4).getString();
  r.message = q.getColumn(5).getString();
  r.options = q.getColumn(6).getString();
  r.status = q.getColumn(7).getString();
  if (!q.getColumn(8).isNull()) r.exit_code = q.getColumn(8).getInt();
  r.reason = q.getColumn(9).getString();
  r.created_at = q.getColumn(10).getInt64();
  if (!q.getColumn(11).isNull()) r.started_at = q.getColumn(11).getInt64();
  if (!q.getColumn(12).isNull()) r.finished_at = q.getColumn(12).getInt64();
  r.container_id = q.getColumn(13).getString();
  r.last_seq = q.getColumn(14).getInt64();
  r.stdout_offset = q.getColumn(15).getInt64();
  r.stderr_offset = q.getColumn(16).getInt64();
  r.output_bytes = q.getColumn(17).getInt64();
  r.truncated = q.getColumn(18).getInt() != 0;
  r.usage = q.getColumn(19).getString();
  return r;
}

void insert_events(SQLite::Database& db, const std::string& run, const std::vector<event>& events) {
  SQLite::Statement ins(db, "INSERT INTO events (run_id, seq, type, data, ts) VALUES (?, ?, ?, ?, ?)");
  for (const auto& e : events) {
    ins.bind(1, run);
    ins.bind(2, static_cast<std::int64_t>(e.seq));
    ins.bind(3, e.type);
    ins.bind(4, e.data);
    ins.bind(5, static_cast<std::int64_t>(e.ts_ms));
    ins.exec();
    ins.reset();
  }
}

void configure(SQLite::Database& db) {
  db.exec("PRAGMA journal_mode = WAL");
  // NORMAL in WAL mode survives a crash of berthd (kill -9) without losing a committed transaction; only
  // power loss may drop the last ones. FULL would cost an fsync per batch of events.
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  // After each checkpoint that resets the WAL, the file shrinks back to this; without it a burst (a flood of
  // events while a reader held a snapshot) leaves a WAL many times the database's size for good.
  db.exec("PRAGMA journal_size_limit = 67108864");
  db.setBusyTimeout(5000);
}

}  // namespace

// " AND (column = :p0 OR column LIKE :p1 …)" for a scope's user patterns (a trailing '*' is a prefix match);
// empty for no restriction. bind_users binds the same names.
std::string users_clause(const std::vector<std::string>& patterns, const char* column) {
  if (patterns.empty()) return {};
  std::string sql = " AND (0";
  for (std::size_t i = 0; i < patterns.size(); ++i)
    sql += std::string(" OR ") + column + (patterns[i].ends_with('*') ? " LIKE :p" + std::to_string(i) + " ESCAPE '\\'"
                                                                        : " = :p" + std::to_string(i));
  return sql + ")";
}

void bind_users(SQLite::Statement& q, const std::vector<std::string>& patterns) {
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const auto& p = patterns[i];
    if (!p.ends_with('*')) {
      q.bind(":p" + std::to_string(i), p);
      continue;
    }
    std::string like;
    for (char c : std::string_view(p).substr(0, p.size() - 1)) {
      if (c == '%' || c == '_' || c == '\\') like += '\\';
      like += c;
    }
    q.bind(":p" + std::to_string(i), like + "%");
  }
}

bool is_store_error(const std::exception& e) { return dynamic_cast<const SQLite::Exception*>(&e) != nullptr; }

store::store(const std::string& path) {
  shared_ = path == ":memory:";
  writer_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  configure(*writer_);
  migrate(*writer_);
  if (shared_) {
    reader_db_ = writer_.get();
  } else {
    reader_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY);
    reader_->setBusyTimeout(5000);
    reader_db_ = reader_.get();
  }
}

store::~store() = default;

int store::schema_version() {
  std::lock_guard lock(write_mutex_);
  return writer_->execAndGet("PRAGMA user_version").getInt();
}

std::string store::meta(const std::string& key) {
  std::lock_guard lock(write_mutex_);
  SQLite::Statement q(*writer_, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  return q.executeStep() ? q.getColumn(0).getString() : std::string();
}

void store::set_meta(const std::string& key, const std::string& value) {
  std::lock_guard lock(write_mutex_);
  SQLite::Statement q(*writer_, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  q.bind(1, key);
  q.bind(2, value);
  q.exec();
}

void store::insert_run(const run_record& r, const event& first, const std::vector<delivery_record>& replies) {
  std::lock_guard lock(write_mutex_);
  SQLite::Transaction tx(*writer_);
  SQLite::Statement q(*writer_,
                      "INSERT INTO runs (id, user, engine, session, model, message, options, status, created_at, "
                      "last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, r.id);
  q.bind(2, r.user);
  q.bind(3, r.engine);
  q.bind(4, r.session);
  q.bind(5, r.model);
  q.bind(6, r.message);
  q.bind(7, r.options);
  q.bind(8, r.status);
  q.bind(9, static_cast<std::int64_t>(r.created_at));
  q.bind(10, static_cast<std::int64_t>(first.seq));
  q.exec();
  insert_events(*writer_, r.id, {first});
  SQLite::Statement d(*writer_, "INSERT INTO deliveries (run_id, kind, target, state, created_at) VALUES (?, ?, ?, 'waiting', ?)");
  for (const auto& rep : replies) {
    d.bind(1, r.id);
    d.bind(2, rep.kind);
    d.bind(3, rep.target);
    d.bind(4, static_cast<std::int64_t>(r.created_at));
    d.exec();
    d.reset();
  }
  tx.commit();
}

void store::commit(const std::string& run, const std::vector<event>& events, const run_update& u) {
  std::lock_guard lock(write_mutex_);
  SQLite::Transaction tx(*writer_);
  SQLite::Statement cur(*writer_, "SELECT last_seq FROM runs WHERE id = ?");
  cur.bind(1, run);
  if (!cur.executeStep()) throw std::runtime_error("no run " + run);
  std::int64_t last = cur.getColumn(0).getInt64();
  for (const auto& e : events) {
    if (e.seq != ++last) throw std::logic_error("event seq gap in run " + run);
  }
  insert_events(*writer_, run, events);

  std::string sql = "UPDATE runs SET last_seq = ?";
  if (u.status) sql += ", status = ?";
  if (u.exit_code) sql += ", exit_code = ?";
  if (u.reason) sql += ", reason = ?";
  if (u.started_at) sql += ", started_at = ?";
  if (u.finished_at) sql += ", finished_at = ?";
  if (u.container_id) sql += ", container_id = ?";
  if (u.stdout_offset) sql += ", stdout_offset = ?";
  if (u.stderr_offset) sql += ", stderr_offset = ?";
  if (u.output_bytes) sql += ", output_bytes = ?";
  if (u.truncated) sql += ", truncated = ?";
  if (u.usage) sql += ", usage = ?";
  sql += " WHERE id = ?";
  SQLite::Statement q(*writer_, sql);
  int i = 1;
  q.bind(i++, static_cast<std::int64_t>(last));
  if (u.status) q.bind(i++, *u.status);
  if (u.exit_code) q.bind(i++, *u.exit_code);
  if (u.reason) q.bind(i++, *u.reason);
  if (u.started_at) q.bind(i++, static_cast<std::int64_t>(*u.started_at));
  if (u.finished_at) q.bind(i++, static_cast<std::int64_t>(*u.finished_at));
  if (u.container_id) q.bind(i++, *u.container_id);
  if (u.stdout_offset) q.bind(i++, static_cast<std::int64_t>(*u.stdout_offset));
  if (u.stderr_offset) q.bind(i++, static_cast<std::int64_t>(*u.stderr_offset));
  if (u.output_bytes) q.bind(i++, static_cast<std::int64_t>(*u.output_bytes));
  if (u.truncated) q.bind(i++, *u.truncated ? 1 : 0);
  if (u.usage) q.bind(i++, *u.usage);
  q.bind(i, run);
  q.exec();
  tx.commit();
}

std::optional<run_record> store::get_run(const std::string& id) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, std::string("SELECT ") + run_columns + " FROM runs WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_run(q);
}

std::optional<run_record> store::run_by_container(const std::string& container_id) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, std::string("SELECT ") + run_columns + " FROM runs WHERE container_id = ?");
  q.bind(1, container_id);
  if (!q.executeStep()) return std::nullopt;
  return read_run(q);
}

std::vector<run_record> store::list_runs(const run_filter& f) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  std::string sql = std::string("SELECT ") + list_columns + " FROM runs WHERE 1";
  if (!f.user.empty()) sql += " AND user = :user";
  sql += users_clause(f.user_patterns, "user");
  if (!f.status.empty()) sql += " AND status = :status";
  if (!f.before.empty()) sql += " AND id < :before";
  if (f.since_ms > 0) sql += " AND created_at >= :since";
  if (f.until_ms > 0) sql += " AND created_at < :until";
  sql += " ORDER BY id DESC LIMIT :limit";
  SQLite::Statement q(*reader_db_, sql);
  if (!f.user.empty()) q.bind(":user", f.user);
  bind_users(q, f.user_patterns);
  if (!f.status.empty()) q.bind(":status", f.status);
  if (!f.before.empty()) q.bind(":before", f.before);
  if (f.since_ms > 0) q.bind(":since", f.since_ms);
  if (f.until_ms > 0) q.bind(":until", f.until_ms);
  q.bind(":limit", f.limit);
  std::vector<run_record> out;
  while (q.executeStep()) out.push_back(read_run(q));
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> store::count_by_status(const std::vector<std::string>& users) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, "SELECT status, COUNT(*) FROM runs WHERE 1" + users_clause(users, "user") + " GROUP BY status");
  bind_users(q, users);
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getInt64());
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> store::count_deliveries_by_state(const std::vector<std::string>& users) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, "SELECT d.state, COUNT(*) FROM deliveries d JOIN runs r ON r.id = d.run_id WHERE 1" +
                                       users_clause(users, "r.user") + " GROUP BY d.state");
  bind_users(q, users);
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getInt64());
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> store::group_counts(const char* table, const char* column) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, std::string("SELECT ") + column + ", COUNT(*) FROM " + table + " GROUP BY " + column);
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getInt64());
  return out;
}

std::vector<run_record> store::runs_in_status(const std::vector<std::string>& statuses) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  std::string sql = std::string("SELECT ") + run_columns + " FROM runs WHERE status IN (";
  for (std::size_t i = 0; i < statuses.size(); ++i) sql += i ? ", ?" : "?";
  sql += ") ORDER BY id ASC";
  SQLite::Statement q(*reader_db_, sql);
  for (std::size_t i = 0; i < statuses.size(); ++i) q.bind(static_cast<int>(i + 1), statuses[i]);
  std::vector<run_record> out;
  while (q.executeStep()) out.push_back(read_run(q));
  return out;
}

std::vector<event> store::events_after(const std::string& run, std::int64_t after_seq, int limit) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, "SELECT seq, type, data, ts FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?");
  q.bind(1, run);
  q.bind(2, static_cast<std::int64_t>(after_seq));
  q.bind(3, limit);
  std::vector<event> out;
  while (q.executeStep()) {
    event e;
    e.run = run;
    e.seq = q.getColumn(0).getInt64();
    e.type = q.getColumn(1).getString();
    e.data = q.getColumn(2).getString();
    e.ts_ms = q.getColumn(3).getInt64();
    out.push_back(std::move(e));
  }
  return out;
}

std::int64_t store::count_events() {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  return reader_db_->execAndGet("SELECT count(*) FROM events").getInt64();
}

std::optional<std::int64_t> store::last_run_ms(const std::string& user) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, "SELECT MAX(created_at) FROM runs WHERE user = ?");
  q.bind(1, user);
  if (!q.executeStep() || q.getColumn(0).isNull()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

bool store::ping() {
  // Readable is not enough: a database that cannot take a write (locked by another process, a full or
  // read-only disk) stops every run. Take the write lock briefly and give it back; wait at most 250 ms.
  std::lock_guard lock(write_mutex_);
  bool ok = false;
  try {
    writer_->setBusyTimeout(250);
    writer_->exec("BEGIN IMMEDIATE");
    writer_->exec("ROLLBACK");
    ok = true;
  } catch (const std::exception&) {
    ok = false;
  }
  try {
    writer_->setBusyTimeout(5000);
  } catch (const std::exception&) {
  }
  return ok;
}

void store::set_instructions(const std::string& user, const std::string& text, std::int64_t now) {
  std::lock_guard lock(write_mutex_);
  SQLite::Statement q(*writer_, "INSERT INTO user_instructions (user, text, updated_at) VALUES (?, ?, ?) "
                                "ON CONFLICT(user) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at");
  q.bind(1, user);
  q.bind(2, text);
  q.bind(3, static_cast<std::int64_t>(now));
  q.exec();
}

std::optional<std::string> store::instructions(const std::string& user) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, "SELECT text FROM user_instructions WHERE user = ?");
  q.bind(1, user);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

bool store::delete_instructions(const std::string& user) {
  std::lock_guard lock(write_mutex_);
  SQLite::Statement q(*writer_, "DELETE FROM user_instructions WHERE user = ?");
  q.bind(1, user);
  return q.exec() > 0;
}

std::vector<run_record> store::session_runs(const std::string& user, int limit) {
  std::lock_guard lock(shared_ ? write_mutex_ : read_mutex_);
  SQLite::Statement q(*reader_db_, std::string("SELECT ") + run_columns +
                                       " FROM runs WHERE user = ? AND session != '' ORDER BY id DESC LIMIT ?");
  q.bind(1, user);
  q.bind(2, limit);
  std::vector<run_record> out;
  while (q.executeStep()) out.push_back(read_run(q));
  return out;
}

}  // namespace berth::store
