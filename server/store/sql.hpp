// The few things the store needs from a SQL database, so one store speaks to SQLite (embedded, the default)
// and to PostgreSQL (several berthd sharing one database) alike. Statements are written once with `?`
// placeholders in the SQL both understand; a driver turns them into its own. Values travel as text or
// integers; every column reads back as text (NULL: absent).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace berth::store::sql {

using param = std::variant<std::nullptr_t, std::int64_t, std::string>;
using params = std::vector<param>;

class row {
 public:
  explicit row(std::vector<std::optional<std::string>> cols) : cols_(std::move(cols)) {}
  bool is_null(std::size_t i) const { return !cols_.at(i); }
  const std::string& text(std::size_t i) const;     // "" for NULL
  std::int64_t int64(std::size_t i) const;          // 0 for NULL
  std::optional<std::int64_t> opt_int64(std::size_t i) const;

 private:
  std::vector<std::optional<std::string>> cols_;
};

enum class dialect { sqlite, postgres };

// The database itself failed (unreachable, locked, I/O, a refused statement): the runs layer keeps a run
// active for recovery on this instead of failing it.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One connection, held by one caller at a time.
class connection {
 public:
  virtual ~connection() = default;
  virtual std::vector<row> query(const std::string& sql, const params& p = {}) = 0;
  virtual std::int64_t exec(const std::string& sql, const params& p = {}) = 0;  // rows changed
};

class database {
 public:
  virtual ~database() = default;
  virtual dialect kind() const = 0;
  // `f` runs in one transaction: committed when it returns, rolled back when it throws.
  virtual void write(const std::function<void(connection&)>& f) = 0;
  // `f` reads; each statement sees what was committed before it.
  virtual void read(const std::function<void(connection&)>& f) = 0;
  // True when the database takes a write now (waits at most ~250 ms on a lock).
  virtual bool ping() = 0;
  // The schema version its migrations brought it to.
  virtual int schema_version() = 0;
};

// `?` placeholders → `$1, $2, …` (PostgreSQL), skipping quoted text. Pure.
std::string numbered_placeholders(const std::string& sql);

}  // namespace berth::store::sql
