#include "pg_scratch.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <libpq-fe.h>

#include "common/ids.hpp"
#include "common/strings.hpp"

namespace berth::test {
namespace {

struct conn_closer {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using conn_ptr = std::unique_ptr<PGconn, conn_closer>;

conn_ptr open(const std::string& url) {
  conn_ptr c(PQconnectdb(url.c_str()));
  if (!c || PQstatus(c.get()) != CONNECTION_OK)
    throw std::runtime_error("test: cannot connect to " + url + ": " + (c ? PQerrorMessage(c.get()) : "no memory"));
  return c;
}

std::string exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  const auto st = PQresultStatus(r);
  std::string out = st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  std::string err = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? "" : PQresultErrorMessage(r);
  PQclear(r);
  if (!err.empty()) throw std::runtime_error("test: " + sql + ": " + err);
  return out;
}

// postgresql://user@host:port/db → same with another database.
std::string with_database(const std::string& url, const std::string& db) {
  auto slash = url.find('/', url.find("://") + 3);
  return url.substr(0, slash) + "/" + db;
}

int run(const std::string& cmd) { return std::system(cmd.c_str()); }

int free_port() {
  static int next = 0;
  if (next == 0) next = 56000 + static_cast<int>(now_ms() % 4000);
  return next++;
}

}  // namespace

std::string test_database_url() {
  const char* v = std::getenv("BERTH_TEST_DATABASE_URL");
  return v ? v : "";
}

scratch_database::scratch_database(const std::string& server_url) : server_url_(server_url) {
  if (server_url_.empty()) throw std::runtime_error("test: no PostgreSQL (BERTH_TEST_DATABASE_URL is unset)");
  std::string lower;
  for (char ch : new_run_id()) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  name_ = "t_" + lower;
  auto c = open(server_url_);
  exec(c.get(), "CREATE DATABASE " + name_);
  url_ = with_database(server_url_, name_);
}

scratch_database::~scratch_database() {
  try {
    auto c = open(server_url_);
    exec(c.get(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
  }
}

std::string scratch_database::scalar(const std::string& sql) const {
  auto c = open(url_);
  return exec(c.get(), sql);
}

pg_server::pg_server() : port_(free_port()) {
  dir_ = (std::filesystem::temp_directory_path() / ("berth-pg-" + new_run_id())).string();
  const std::string script = std::string(BERTH_SOURCE_DIR) + "/test/support/pg_fixture.sh";
  if (run(script + " start " + dir_ + " " + std::to_string(port_) + " >/dev/null") != 0)
    throw std::runtime_error("test: PostgreSQL did not start in " + dir_);
  url_ = "postgresql://berth@127.0.0.1:" + std::to_string(port_) + "/berth";
}

pg_server::~pg_server() { run(std::string(BERTH_SOURCE_DIR) + "/test/support/pg_fixture.sh stop " + dir_); }

void pg_server::stop() {
  run("su postgres -s /bin/sh -c '/usr/lib/postgresql/15/bin/pg_ctl -D " + dir_ + "/pg -m immediate -w stop' >/dev/null 2>&1");
}

void pg_server::start() {
  if (run("su postgres -s /bin/sh -c \"/usr/lib/postgresql/15/bin/pg_ctl -D " + dir_ + "/pg -o \\\"-k " + dir_ +
          " -h 127.0.0.1 -p " + std::to_string(port_) + "\\\" -l " + dir_ + "/pg.log -w start\" >/dev/null") != 0)
    throw std::runtime_error("test: PostgreSQL did not start again");
}

}  // namespace berth::test
