#include "server/store/sqlite/sqlite_database.hpp"

#include <chrono>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>

namespace berth::store::sqlite {
namespace {

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

class sqlite_connection final : public sql::connection {
 public:
  explicit sqlite_connection(SQLite::Database& db) : db_(db) {}

  std::vector<sql::row> query(const std::string& text, const sql::params& p) override {
    try {
      SQLite::Statement q(db_, text);
      bind(q, p);
      std::vector<sql::row> out;
      const int n = q.getColumnCount();
      while (q.executeStep()) {
        std::vector<std::optional<std::string>> cols;
        cols.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
          auto c = q.getColumn(i);
          if (c.isNull()) cols.emplace_back();
          else cols.emplace_back(c.getString());
        }
        out.emplace_back(std::move(cols));
      }
      return out;
    } catch (const SQLite::Exception& e) {
      throw sql::error(std::string("sqlite: ") + e.what());
    }
  }

  std::int64_t exec(const std::string& text, const sql::params& p) override {
    try {
      SQLite::Statement q(db_, text);
      bind(q, p);
      return q.exec();
    } catch (const SQLite::Exception& e) {
      throw sql::error(std::string("sqlite: ") + e.what());
    }
  }

 private:
  static void bind(SQLite::Statement& q, const sql::params& p) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      const int at = static_cast<int>(i + 1);
      if (auto s = std::get_if<std::string>(&p[i])) q.bind(at, *s);
      else if (auto v = std::get_if<std::int64_t>(&p[i])) q.bind(at, *v);
      else q.bind(at);
    }
  }
  SQLite::Database& db_;
};

}  // namespace

sqlite_database::sqlite_database(const std::string& path) {
  try {
    writer_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    configure(*writer_);
    migrate(*writer_);
    if (path != ":memory:") {
      reader_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY);
      reader_->setBusyTimeout(5000);
    }
  } catch (const SQLite::Exception& e) {
    throw sql::error("cannot open the database " + path + ": " + e.what());
  }
}

sqlite_database::~sqlite_database() = default;

void sqlite_database::write(const std::function<void(sql::connection&)>& f) {
  std::lock_guard lock(write_mutex_);
  try {
    // IMMEDIATE: take the write lock first, so a transaction that reads and then writes never meets another
    // connection's writer halfway (SQLite would answer BUSY at once, without waiting).
    SQLite::Transaction tx(*writer_, SQLite::TransactionBehavior::IMMEDIATE);
    sqlite_connection c(*writer_);
    f(c);
    tx.commit();
  } catch (const SQLite::Exception& e) {
    throw sql::error(std::string("sqlite: ") + e.what());
  }
}

void sqlite_database::read(const std::function<void(sql::connection&)>& f) {
  if (!reader_) {
    std::lock_guard lock(write_mutex_);
    sqlite_connection c(*writer_);
    f(c);
    return;
  }
  std::lock_guard lock(read_mutex_);
  sqlite_connection c(*reader_);
  f(c);
}

bool sqlite_database::ping() {
  // Readable is not enough: a database that cannot take a write (locked by another process, a full or
  // read-only disk) stops every run. Take the write lock briefly and give it back; wait at most 250 ms, for
  // this process's own writers too (they may be the ones stuck behind another process's lock).
  // (Polled with try_lock rather than a timed mutex: ThreadSanitizer cannot follow pthread_mutex_clocklock.)
  std::unique_lock lock(write_mutex_, std::defer_lock);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
  while (!lock.try_lock()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
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

int sqlite_database::schema_version() {
  std::lock_guard lock(write_mutex_);
  return writer_->execAndGet("PRAGMA user_version").getInt();
}

}  // namespace berth::store::sqlite
