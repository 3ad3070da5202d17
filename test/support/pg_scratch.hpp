// Real PostgreSQL for tests. The `postgres` ctest fixture (pg_fixture.sh) runs one server and names it in
// BERTH_TEST_DATABASE_URL; each test takes a database of its own (scratch_database, dropped at its end).
// pg_server starts a private one, for tests that stop and start the server (outage drills).
#pragma once
#include <string>

namespace berth::test {

// The fixture's server URL; empty when the tests run without it.
std::string test_database_url();

class scratch_database {
 public:
  // A fresh, empty database on the server at `server_url` (any database there); dropped in the destructor.
  explicit scratch_database(const std::string& server_url = test_database_url());
  ~scratch_database();
  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;
  const std::string& url() const { return url_; }
  // Runs SQL on it (a test's look behind the store); returns the first column of the first row, or "".
  std::string scalar(const std::string& sql) const;

 private:
  std::string server_url_, name_, url_;
};

// A PostgreSQL 15 server of the test's own on a free loopback port: initdb + pg_ctl as the postgres user.
class pg_server {
 public:
  pg_server();
  ~pg_server();  // stops it (immediate) and removes its files
  pg_server(const pg_server&) = delete;
  pg_server& operator=(const pg_server&) = delete;
  void stop();   // like a crash or an outage: immediate shutdown
  void start();  // again, same port, same data
  const std::string& url() const { return url_; }

 private:
  std::string dir_, url_;
  int port_ = 0;
};

}  // namespace berth::test
