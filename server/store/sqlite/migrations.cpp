// Schema history. Append a new entry to change the schema; never edit an applied one. The index of an entry
// + 1 is the PRAGMA user_version it leads to.
#include <array>
#include <stdexcept>

#include <SQLiteCpp/SQLiteCpp.h>

#include "server/store/sqlite/sqlite_database.hpp"

namespace berth::store::sqlite {
namespace {
constexpr std::array<const char*, 9> migrations = {
    R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  engine TEXT NOT NULL,
  session TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL,
  options TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL,
  exit_code INTEGER,
  reason TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  container_id TEXT NOT NULL DEFAULT '',
  last_seq INTEGER NOT NULL DEFAULT 0,
  stdout_offset INTEGER NOT NULL DEFAULT 0,
  stderr_offset INTEGER NOT NULL DEFAULT 0,
  output_bytes INTEGER NOT NULL DEFAULT 0,
  truncated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_user ON runs (user, id);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE TABLE events (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
)sql",
    R"sql(
CREATE TABLE user_instructions (
  user TEXT PRIMARY KEY,
  text TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX runs_by_session ON runs (user, session, id) WHERE session != '';
)sql",
    R"sql(
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  state TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  deadline_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE INDEX deliveries_by_state ON deliveries (state, next_at);
CREATE INDEX deliveries_by_run ON deliveries (run_id);
CREATE TABLE chat_events (
  source TEXT NOT NULL,
  event_id TEXT NOT NULL,
  run_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (source, event_id)
) WITHOUT ROWID;
)sql",
    // 4: what a run spent at the model API, metered by berthd's gateway (JSON, common/usage.hpp).
    R"sql(
ALTER TABLE runs ADD COLUMN usage TEXT NOT NULL DEFAULT '';
)sql",
    // 5: several berthd on one database (PostgreSQL has the same tables): who follows a run, who is alive,
    // cancels asked of another instance, dashboard logins and outbox claims every instance sees.
    R"sql(
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
CREATE TABLE nodes (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL, started_at INTEGER NOT NULL);
CREATE TABLE dashboard_sessions (
  token_hash TEXT PRIMARY KEY,
  csrf TEXT NOT NULL,
  users TEXT,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
)sql",
    // 6: schedules and heartbeats; what started a run and the firing it stands for.
    R"sql(
CREATE TABLE schedules (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'schedule',
  message TEXT NOT NULL,
  engine TEXT NOT NULL DEFAULT '',
  session TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  options TEXT NOT NULL DEFAULT '{}',
  cron TEXT NOT NULL DEFAULT '',
  interval_s INTEGER NOT NULL DEFAULT 0,
  timezone TEXT NOT NULL DEFAULT 'UTC',
  missed TEXT NOT NULL DEFAULT 'skip',
  replies TEXT NOT NULL DEFAULT '[]',
  paused INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules (paused, next_at);
ALTER TABLE runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN scheduled_for INTEGER;
)sql",
    R"sql(
CREATE TABLE user_settings (
  "user" TEXT NOT NULL,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY ("user", kind)
);
CREATE TABLE spend_daily (
  "user" TEXT NOT NULL,
  day TEXT NOT NULL,
  tokens BIGINT NOT NULL DEFAULT 0,
  cost_micros BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY ("user", day)
);
)sql",
    R"sql(
CREATE TABLE stored_files (
  key TEXT PRIMARY KEY,
  content TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
)sql",
    R"sql(
ALTER TABLE runs ADD COLUMN worker_node TEXT NOT NULL DEFAULT '';
)sql",
};
}  // namespace

int latest_schema_version() { return static_cast<int>(migrations.size()); }

void migrate(SQLite::Database& db) {
  int version = db.execAndGet("PRAGMA user_version").getInt();
  if (version > latest_schema_version())
    throw std::runtime_error("the database's schema version " + std::to_string(version) + " is newer than this berthd's (" +
                             std::to_string(latest_schema_version()) +
                             "): it was written by a later berth; run that version, or restore a backup made for this one");
  for (int v = version; v < latest_schema_version(); ++v) {
    SQLite::Transaction tx(db);
    db.exec(migrations[static_cast<std::size_t>(v)]);
    db.exec("PRAGMA user_version = " + std::to_string(v + 1));
    tx.commit();
  }
}

}  // namespace berth::store::sqlite
