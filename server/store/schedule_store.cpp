// The store's schedules (server/schedule fires them; runs carry triggered_by and scheduled_for).
#include "server/store/store.hpp"
#include "server/store/user_scope_sql.hpp"

namespace berth::store {
namespace {
constexpr const char* schedule_columns =
    "id, \"user\", kind, message, engine, session, model, options, cron, interval_s, timezone, missed, replies, paused, "
    "next_at, created_at";

schedule_record read_schedule(const sql::row& q) {
  schedule_record s;
  s.id = q.text(0);
  s.user = q.text(1);
  s.kind = q.text(2);
  s.message = q.text(3);
  s.engine = q.text(4);
  s.session = q.text(5);
  s.model = q.text(6);
  s.options = q.text(7);
  s.cron = q.text(8);
  s.interval_s = q.int64(9);
  s.timezone = q.text(10);
  s.missed = q.text(11);
  s.replies = q.text(12);
  s.paused = q.int64(13) != 0;
  s.next_at = q.int64(14);
  s.created_at = q.int64(15);
  return s;
}

std::vector<schedule_record> read_schedules(const std::vector<sql::row>& rows) {
  std::vector<schedule_record> out;
  for (const auto& r : rows) out.push_back(read_schedule(r));
  return out;
}
}  // namespace

void store::insert_schedule(const schedule_record& s) {
  db_->write([&](sql::connection& c) {
    c.exec(std::string("INSERT INTO schedules (") + schedule_columns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (id) DO UPDATE SET message = excluded.message, engine = excluded.engine, session = excluded.session, "
           "model = excluded.model, options = excluded.options, cron = excluded.cron, interval_s = excluded.interval_s, "
           "timezone = excluded.timezone, missed = excluded.missed, replies = excluded.replies, paused = excluded.paused, "
           "next_at = excluded.next_at, created_at = excluded.created_at",
           {s.id, s.user, s.kind, s.message, s.engine, s.session, s.model, s.options, s.cron, s.interval_s, s.timezone,
            s.missed, s.replies, static_cast<std::int64_t>(s.paused ? 1 : 0), s.next_at, s.created_at});
  });
}

std::optional<schedule_record> store::get_schedule(const std::string& id) {
  std::optional<schedule_record> out;
  db_->read([&](sql::connection& c) {
    auto r = c.query(std::string("SELECT ") + schedule_columns + " FROM schedules WHERE id = ?", {id});
    if (!r.empty()) out = read_schedule(r[0]);
  });
  return out;
}

std::vector<schedule_record> store::list_schedules(const std::string& user, const std::vector<std::string>& users) {
  sql::params p;
  std::string text = std::string("SELECT ") + schedule_columns + " FROM schedules WHERE TRUE";
  if (!user.empty()) {
    text += " AND \"user\" = ?";
    p.emplace_back(user);
  }
  text += users_clause(users, "\"user\"", p) + " ORDER BY created_at, id LIMIT 1000";
  std::vector<schedule_record> out;
  db_->read([&](sql::connection& c) { out = read_schedules(c.query(text, p)); });
  return out;
}

bool store::delete_schedule(const std::string& id) {
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) { n = c.exec("DELETE FROM schedules WHERE id = ?", {id}); });
  return n > 0;
}

bool store::set_schedule_paused(const std::string& id, bool paused, std::int64_t next_at) {
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) {
    n = c.exec("UPDATE schedules SET paused = ?, next_at = ? WHERE id = ?",
               {static_cast<std::int64_t>(paused ? 1 : 0), next_at, id});
  });
  return n > 0;
}

std::vector<schedule_record> store::due_schedules(std::int64_t now_ms, int limit) {
  std::vector<schedule_record> out;
  db_->read([&](sql::connection& c) {
    out = read_schedules(c.query(std::string("SELECT ") + schedule_columns +
                                     " FROM schedules WHERE paused = 0 AND next_at <= ? ORDER BY next_at LIMIT ?",
                                 {now_ms, static_cast<std::int64_t>(limit)}));
  });
  return out;
}

std::optional<std::int64_t> store::next_schedule_at() {
  std::optional<std::int64_t> out;
  db_->read([&](sql::connection& c) { out = c.query("SELECT MIN(next_at) FROM schedules WHERE paused = 0").at(0).opt_int64(0); });
  return out;
}

bool store::advance_schedule(const schedule_step& step) {
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) {
    n = c.exec("UPDATE schedules SET next_at = ? WHERE id = ? AND next_at = ?", {step.next, step.id, step.expected});
  });
  return n == 1;
}

}  // namespace berth::store
