#include "server/store/copy_history.hpp"

#include <array>
#include <filesystem>

#include "server/store/sqlite/sqlite_database.hpp"

namespace berth::store {
namespace {

struct table_copy {
  const char* name;
  const char* columns;   // the same names in both schemas
  const char* order_by;  // a unique key: pages are read in this order
  const char* conflict;  // the target's primary key
};

// Parents before children (deliveries reference runs).
constexpr std::array tables = {
    table_copy{"meta", "key, value", "key", "key"},
    table_copy{"runs",
               "id, \"user\", engine, session, model, message, options, status, exit_code, reason, created_at, started_at, "
               "finished_at, container_id, last_seq, stdout_offset, stderr_offset, output_bytes, truncated, usage, owner, "
               "cancel_requested, triggered_by, scheduled_for, worker_node",
               "id", "id"},
    table_copy{"events", "run_id, seq, type, data, ts", "run_id, seq", "run_id, seq"},
    table_copy{"user_instructions", "\"user\", text, updated_at", "\"user\"", "\"user\""},
    table_copy{"deliveries",
               "id, run_id, kind, target, state, payload, attempts, next_at, deadline_at, last_error, created_at, "
               "delivered_at, claimed_by, claimed_until",
               "id", "id"},
    table_copy{"chat_events", "source, event_id, run_id, created_at", "source, event_id", "source, event_id"},
    table_copy{"schedules",
               "id, \"user\", kind, message, engine, session, model, options, cron, interval_s, timezone, missed, replies, "
               "paused, next_at, created_at",
               "id", "id"},
    table_copy{"user_settings", "\"user\", kind, value, updated_at", "\"user\", kind", "\"user\", kind"},
    table_copy{"spend_daily", "\"user\", day, tokens, cost_micros", "\"user\", day", "\"user\", day"},
};
constexpr std::int64_t page_rows = 500;

std::size_t column_count(const char* columns) {
  std::size_t n = 1;
  for (const char* p = columns; *p; ++p) n += *p == ',';
  return n;
}

}  // namespace

copy_counts copy_history(const std::string& sqlite_path, store& target) {
  if (!std::filesystem::exists(sqlite_path)) throw sql::error("no SQLite database at " + sqlite_path);
  sqlite::sqlite_database source(sqlite_path);  // brought to the latest schema first, like a start would
  copy_counts counts;
  for (const auto& t : tables) {
    const std::size_t width = column_count(t.columns);
    std::string placeholders = "(";
    for (std::size_t i = 0; i < width; ++i) placeholders += i ? ", ?" : "?";
    placeholders += ")";
    std::int64_t copied = 0;
    for (std::int64_t offset = 0;; offset += page_rows) {
      std::vector<sql::row> rows;
      source.read([&](sql::connection& c) {
        rows = c.query(std::string("SELECT ") + t.columns + " FROM " + t.name + " ORDER BY " + t.order_by + " LIMIT ? OFFSET ?",
                       {page_rows, offset});
      });
      if (rows.empty()) break;
      std::string text = std::string("INSERT INTO ") + t.name + " (" + t.columns + ") VALUES ";
      sql::params p;
      for (std::size_t r = 0; r < rows.size(); ++r) {
        text += r ? ", " + placeholders : placeholders;
        for (std::size_t i = 0; i < width; ++i)
          p.push_back(rows[r].is_null(i) ? sql::param(nullptr) : sql::param(rows[r].text(i)));
      }
      text += std::string(" ON CONFLICT (") + t.conflict + ") DO NOTHING";
      target.database().write([&](sql::connection& c) { c.exec(text, p); });
      copied += static_cast<std::int64_t>(rows.size());
      if (static_cast<std::int64_t>(rows.size()) < page_rows) break;
    }
    counts.emplace_back(t.name, copied);
  }
  // New replies on the target must not reuse a copied id.
  if (target.kind() == sql::dialect::postgres)
    target.database().write([](sql::connection& c) {
      c.query("SELECT setval(pg_get_serial_sequence('deliveries', 'id'), GREATEST((SELECT MAX(id) FROM deliveries), 1))");
    });
  return counts;
}

}  // namespace berth::store
