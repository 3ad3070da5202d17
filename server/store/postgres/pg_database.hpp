// The PostgreSQL driver (libpq): a small pool of connections to BERTH_DATABASE_URL. A connection that breaks
// (the server restarted, the network went) is dropped and a new one made on next use, so berthd rides out an
// outage without a restart: calls fail with sql::error meanwhile. Schema migrations run under an advisory
// lock, so instances starting together migrate once.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/store/sql.hpp"

struct pg_conn;

namespace berth::store::postgres {

struct pg_conn_closer {
  void operator()(pg_conn* c) const;
};
using pg_handle = std::unique_ptr<pg_conn, pg_conn_closer>;

// Connects with short timeouts and TCP keepalives; throws sql::error naming the server (never the password).
pg_handle connect(const std::string& url);
// True for postgres:// and postgresql:// URLs.
bool is_postgres_url(const std::string& s);

class pg_database final : public sql::database {
 public:
  explicit pg_database(std::string url, std::size_t pool_size = 6);
  ~pg_database() override;
  sql::dialect kind() const override { return sql::dialect::postgres; }
  void write(const std::function<void(sql::connection&)>& f) override;
  void read(const std::function<void(sql::connection&)>& f) override;
  bool ping() override;
  int schema_version() override;
  const std::string& url() const { return url_; }

 private:
  pg_handle acquire();
  void release(pg_handle h);
  void migrate();

  std::string url_;
  std::size_t max_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<pg_handle> idle_;
  std::size_t open_ = 0;
};

int latest_schema_version();

}  // namespace berth::store::postgres
