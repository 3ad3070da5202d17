// The embedded driver: one SQLite file in WAL mode, one writer connection behind a mutex and one reader
// connection beside it (WAL lets reads run while a write is under way). ":memory:" shares one connection.
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "server/store/sql.hpp"

namespace SQLite { class Database; }

namespace berth::store::sqlite {

class sqlite_database final : public sql::database {
 public:
  explicit sqlite_database(const std::string& path);
  ~sqlite_database() override;
  sql::dialect kind() const override { return sql::dialect::sqlite; }
  void write(const std::function<void(sql::connection&)>& f) override;
  void read(const std::function<void(sql::connection&)>& f) override;
  bool ping() override;
  int schema_version() override;

 private:
  std::unique_ptr<SQLite::Database> writer_;
  std::unique_ptr<SQLite::Database> reader_;  // null for ":memory:"
  std::mutex write_mutex_;
  std::mutex read_mutex_;
};

// Applies every migration newer than the file's user_version, each in its own transaction.
void migrate(SQLite::Database& db);
int latest_schema_version();

}  // namespace berth::store::sqlite
