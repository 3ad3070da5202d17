#include "server/store/store.hpp"
#include "server/store/user_scope_sql.hpp"

#include <algorithm>
#include <stdexcept>

#include "server/store/postgres/pg_database.hpp"
#include "server/store/sqlite/sqlite_database.hpp"

namespace berth::store {
namespace {

constexpr const char* run_columns =
    "id, \"user\", engine, session, model, message, options, status, exit_code, reason, created_at, started_at, "
    "finished_at, container_id, last_seq, stdout_offset, stderr_offset, output_bytes, truncated, usage, owner, "
    "triggered_by, scheduled_for, worker_node";
// Lists show a preview of each message: reading 500 whole 256 KiB messages per page would cost 128 MB.
constexpr const char* list_columns =
    "id, \"user\", engine, session, model, substr(message, 1, 256), options, status, exit_code, reason, created_at, "
    "started_at, finished_at, container_id, last_seq, stdout_offset, stderr_offset, output_bytes, truncated, usage, owner, "
    "triggered_by, scheduled_for, worker_node";
// Rows per INSERT of events: one statement per batch, under SQLite's 32766-parameter cap.
constexpr std::size_t events_per_insert = 500;

run_record read_run(const sql::row& q) {
  run_record r;
  r.id = q.text(0);
  r.user = q.text(1);
  r.engine = q.text(2);
  r.session = q.text(3);
  r.model = q.text(4);
  r.message = q.text(5);
  r.options = q.text(6);
  r.status = q.text(7);
  if (auto v = q.opt_int64(8)) r.exit_code = static_cast<int>(*v);
  r.reason = q.text(9);
  r.created_at = q.int64(10);
  r.started_at = q.opt_int64(11);
  r.finished_at = q.opt_int64(12);
  r.container_id = q.text(13);
  r.last_seq = q.int64(14);
  r.stdout_offset = q.int64(15);
  r.stderr_offset = q.int64(16);
  r.output_bytes = q.int64(17);
  r.truncated = q.int64(18) != 0;
  r.usage = q.text(19);
  r.owner = q.text(20);
  r.trigger = q.text(21);
  r.scheduled_for = q.opt_int64(22);
  r.worker_node = q.text(23);
  return r;
}

std::vector<run_record> read_runs(const std::vector<sql::row>& rows) {
  std::vector<run_record> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(read_run(r));
  return out;
}

void insert_events(sql::connection& c, const std::string& run, const std::vector<event>& events) {
  for (std::size_t at = 0; at < events.size(); at += events_per_insert) {
    const auto end = std::min(events.size(), at + events_per_insert);
    std::string text = "INSERT INTO events (run_id, seq, type, data, ts) VALUES ";
    sql::params p;
    p.reserve((end - at) * 5);
    for (std::size_t i = at; i < end; ++i) {
      text += i == at ? "(?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?)";
      const auto& e = events[i];
      p.insert(p.end(), {run, static_cast<std::int64_t>(e.seq), e.type, e.data, static_cast<std::int64_t>(e.ts_ms)});
    }
    c.exec(text, p);
  }
}

// Other instances learn of stored events from this (PostgreSQL only; delivered when the transaction commits).
void announce(sql::database& db, sql::connection& c, const char* channel, const std::string& payload) {
  if (db.kind() == sql::dialect::postgres) c.query("SELECT pg_notify(?, ?)", {std::string(channel), payload});
}

std::vector<std::pair<std::string, std::int64_t>> pairs(const std::vector<sql::row>& rows) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& r : rows) out.emplace_back(r.text(0), r.int64(1));
  return out;
}

std::unique_ptr<sql::database> open_database(const std::string& path_or_url) {
  if (postgres::is_postgres_url(path_or_url)) return std::make_unique<postgres::pg_database>(path_or_url);
  return std::make_unique<sqlite::sqlite_database>(path_or_url);
}

}  // namespace

std::string users_clause(const std::vector<std::string>& patterns, const char* column, sql::params& p) {
  if (patterns.empty()) return {};
  std::string text = " AND (FALSE";
  for (const auto& pat : patterns) {
    if (!pat.ends_with('*')) {
      text += std::string(" OR ") + column + " = ?";
      p.emplace_back(pat);
      continue;
    }
    std::string like;
    for (char c : std::string_view(pat).substr(0, pat.size() - 1)) {
      if (c == '%' || c == '_' || c == '\\') like += '\\';
      like += c;
    }
    text += std::string(" OR ") + column + " LIKE ? ESCAPE '\\'";
    p.emplace_back(like + "%");
  }
  return text + ")";
}

bool is_store_error(const std::exception& e) { return dynamic_cast<const sql::error*>(&e) != nullptr; }

store::store(const std::string& path_or_url) : db_(open_database(path_or_url)), url_(path_or_url) {}

store::~store() = default;

int store::schema_version() { return db_->schema_version(); }

std::string store::meta(const std::string& key) {
  std::string v;
  db_->read([&](sql::connection& c) {
    auto r = c.query("SELECT value FROM meta WHERE key = ?", {key});
    if (!r.empty()) v = r[0].text(0);
  });
  return v;
}

void store::set_meta(const std::string& key, const std::string& value) {
  db_->write([&](sql::connection& c) {
    c.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", {key, value});
  });
}

std::string store::meta_or_set(const std::string& key, const std::string& value) {
  std::string v;
  db_->write([&](sql::connection& c) {
    c.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", {key, value});
    v = c.query("SELECT value FROM meta WHERE key = ?", {key}).at(0).text(0);
  });
  return v;
}

bool store::insert_run(const run_record& r, const event& first, const std::vector<delivery_record>& replies,
                       const std::optional<schedule_step>& step) {
  bool stored = false;
  db_->write([&](sql::connection& c) {
    if (step && c.exec("UPDATE schedules SET next_at = ? WHERE id = ? AND next_at = ?", {step->next, step->id, step->expected}) != 1)
      return;  // fired already (another instance, or before a restart)
    sql::param scheduled = r.scheduled_for ? sql::param(*r.scheduled_for) : sql::param(nullptr);
    c.exec("INSERT INTO runs (id, \"user\", engine, session, model, message, options, status, created_at, last_seq, owner, "
           "triggered_by, scheduled_for) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
           {r.id, r.user, r.engine, r.session, r.model, r.message, r.options, r.status,
            static_cast<std::int64_t>(r.created_at), static_cast<std::int64_t>(first.seq), r.owner, r.trigger, scheduled});
    insert_events(c, r.id, {first});
    for (const auto& rep : replies)
      c.exec("INSERT INTO deliveries (run_id, kind, target, state, created_at) VALUES (?, ?, ?, 'waiting', ?)",
             {r.id, rep.kind, rep.target, static_cast<std::int64_t>(r.created_at)});
    const auto seq = std::to_string(first.seq);
    announce(*db_, c, events_channel, node_ + " " + r.id + " " + seq + " " + seq);
    announce(*db_, c, queue_channel, r.id);
    stored = true;
  });
  return stored;
}

void store::commit(const std::string& run, const std::vector<event>& events, const run_update& u) {
  db_->write([&](sql::connection& c) {
    auto cur = c.query(db_->kind() == sql::dialect::postgres ? "SELECT last_seq, owner FROM runs WHERE id = ? FOR UPDATE"
                                                             : "SELECT last_seq, owner FROM runs WHERE id = ?",
                       {run});
    if (cur.empty()) throw std::runtime_error("no run " + run);
    std::int64_t last = cur[0].int64(0);
    if (!node_.empty() && cur[0].text(1) != node_)
      throw ownership_lost("run " + run + " is followed by " + (cur[0].text(1).empty() ? "nobody" : cur[0].text(1)) +
                           " now, not by " + node_);
    const std::int64_t first = last + 1;
    for (const auto& e : events) {
      if (e.seq != ++last) throw std::logic_error("event seq gap in run " + run);
    }
    insert_events(c, run, events);

    std::string text = "UPDATE runs SET last_seq = ?";
    sql::params p{last};
    auto set = [&](const char* column, sql::param v) {
      text += std::string(", ") + column + " = ?";
      p.push_back(std::move(v));
    };
    if (u.status) set("status", *u.status);
    if (u.exit_code) set("exit_code", static_cast<std::int64_t>(*u.exit_code));
    if (u.reason) set("reason", *u.reason);
    if (u.started_at) set("started_at", *u.started_at);
    if (u.finished_at) set("finished_at", *u.finished_at);
    if (u.container_id) set("container_id", *u.container_id);
    if (u.worker_node) set("worker_node", *u.worker_node);
    if (u.stdout_offset) set("stdout_offset", *u.stdout_offset);
    if (u.stderr_offset) set("stderr_offset", *u.stderr_offset);
    if (u.output_bytes) set("output_bytes", *u.output_bytes);
    if (u.truncated) set("truncated", static_cast<std::int64_t>(*u.truncated ? 1 : 0));
    if (u.usage) set("usage", *u.usage);
    p.emplace_back(run);
    c.exec(text + " WHERE id = ?", p);
    if (u.spend)
      c.exec("INSERT INTO spend_daily (\"user\", day, tokens, cost_micros) SELECT \"user\", ?, ?, ? FROM runs WHERE id = ? "
             "ON CONFLICT (\"user\", day) DO UPDATE SET tokens = spend_daily.tokens + excluded.tokens, "
             "cost_micros = spend_daily.cost_micros + excluded.cost_micros",
             {u.spend->day, u.spend->tokens, u.spend->cost_micros, run});
    if (!events.empty())
      announce(*db_, c, events_channel, node_ + " " + run + " " + std::to_string(first) + " " + std::to_string(last));
    if (u.status && is_terminal_status(*u.status)) announce(*db_, c, queue_channel, run);
  });
}

std::optional<run_record> store::get_run(const std::string& id) {
  std::optional<run_record> out;
  db_->read([&](sql::connection& c) {
    auto r = c.query(std::string("SELECT ") + run_columns + " FROM runs WHERE id = ?", {id});
    if (!r.empty()) out = read_run(r[0]);
  });
  return out;
}

std::optional<run_record> store::run_by_container(const std::string& container_id) {
  std::optional<run_record> out;
  db_->read([&](sql::connection& c) {
    auto r = c.query(std::string("SELECT ") + run_columns + " FROM runs WHERE container_id = ?", {container_id});
    if (!r.empty()) out = read_run(r[0]);
  });
  return out;
}

std::vector<run_record> store::list_runs(const run_filter& f) {
  sql::params p;
  std::string text = std::string("SELECT ") + list_columns + " FROM runs WHERE TRUE";
  if (!f.user.empty()) { text += " AND \"user\" = ?"; p.emplace_back(f.user); }
  text += users_clause(f.user_patterns, "\"user\"", p);
  if (!f.status.empty()) { text += " AND status = ?"; p.emplace_back(f.status); }
  if (!f.before.empty()) { text += " AND id < ?"; p.emplace_back(f.before); }
  if (f.since_ms > 0) { text += " AND created_at >= ?"; p.emplace_back(f.since_ms); }
  if (f.until_ms > 0) { text += " AND created_at < ?"; p.emplace_back(f.until_ms); }
  text += " ORDER BY id DESC LIMIT ?";
  p.emplace_back(static_cast<std::int64_t>(f.limit));
  std::vector<run_record> out;
  db_->read([&](sql::connection& c) { out = read_runs(c.query(text, p)); });
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> store::count_by_status(const std::vector<std::string>& users) {
  sql::params p;
  const auto text = "SELECT status, COUNT(*) FROM runs WHERE TRUE" + users_clause(users, "\"user\"", p) + " GROUP BY status";
  std::vector<std::pair<std::string, std::int64_t>> out;
  db_->read([&](sql::connection& c) { out = pairs(c.query(text, p)); });
  return out;
}

std::vector<run_record> store::runs_in_status(const std::vector<std::string>& statuses) {
  std::string text = std::string("SELECT ") + run_columns + " FROM runs WHERE status IN (";
  sql::params p;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    text += i ? ", ?" : "?";
    p.emplace_back(statuses[i]);
  }
  text += ") ORDER BY id ASC";
  std::vector<run_record> out;
  db_->read([&](sql::connection& c) { out = read_runs(c.query(text, p)); });
  return out;
}

std::vector<event> store::events_after(const std::string& run, std::int64_t after_seq, int limit) {
  std::vector<event> out;
  db_->read([&](sql::connection& c) {
    auto rows = c.query("SELECT seq, type, data, ts FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                        {run, after_seq, static_cast<std::int64_t>(limit)});
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back({run, r.int64(0), r.text(1), r.text(2), r.int64(3)});
  });
  return out;
}

std::int64_t store::count_events() {
  std::int64_t n = 0;
  db_->read([&](sql::connection& c) { n = c.query("SELECT COUNT(*) FROM events").at(0).int64(0); });
  return n;
}

std::optional<std::int64_t> store::last_run_ms(const std::string& user) {
  std::optional<std::int64_t> out;
  db_->read([&](sql::connection& c) { out = c.query("SELECT MAX(created_at) FROM runs WHERE \"user\" = ?", {user}).at(0).opt_int64(0); });
  return out;
}

bool store::ping() { return db_->ping(); }

void store::set_instructions(const std::string& user, const std::string& text, std::int64_t now) {
  db_->write([&](sql::connection& c) {
    c.exec("INSERT INTO user_instructions (\"user\", text, updated_at) VALUES (?, ?, ?) "
           "ON CONFLICT (\"user\") DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
           {user, text, now});
  });
}

std::optional<std::string> store::instructions(const std::string& user) {
  std::optional<std::string> out;
  db_->read([&](sql::connection& c) {
    auto r = c.query("SELECT text FROM user_instructions WHERE \"user\" = ?", {user});
    if (!r.empty()) out = r[0].text(0);
  });
  return out;
}

bool store::delete_instructions(const std::string& user) {
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) { n = c.exec("DELETE FROM user_instructions WHERE \"user\" = ?", {user}); });
  return n > 0;
}

std::vector<run_record> store::session_runs(const std::string& user, int limit) {
  std::vector<run_record> out;
  db_->read([&](sql::connection& c) {
    out = read_runs(c.query(std::string("SELECT ") + run_columns +
                                " FROM runs WHERE \"user\" = ? AND session != '' ORDER BY id DESC LIMIT ?",
                            {user, static_cast<std::int64_t>(limit)}));
  });
  return out;
}

}  // namespace berth::store
