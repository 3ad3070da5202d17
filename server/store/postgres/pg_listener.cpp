#include "server/store/postgres/pg_listener.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/log.hpp"
#include "server/store/postgres/pg_database.hpp"

namespace berth::store::postgres {
namespace {
constexpr int reconnect_ms = 1000;

// "LISTEN name": channel names are ours (store.hpp), quoted as identifiers all the same.
std::string listen_statement(PGconn* c, const std::string& channel) {
  char* quoted = PQescapeIdentifier(c, channel.c_str(), channel.size());
  std::string s = std::string("LISTEN ") + (quoted ? quoted : "\"\"");
  PQfreemem(quoted);
  return s;
}
}  // namespace

pg_listener::pg_listener(std::string url, std::vector<std::string> channels, note_fn on_note, std::function<void()> on_resync)
    : url_(std::move(url)), channels_(std::move(channels)), on_note_(std::move(on_note)), on_resync_(std::move(on_resync)) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2 failed");
}

pg_listener::~pg_listener() {
  stop();
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void pg_listener::start() { thread_ = std::thread([this] { loop(); }); }

void pg_listener::stop() {
  if (stop_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  char b = 1;
  [[maybe_unused]] auto n = ::write(wake_[1], &b, 1);
  if (thread_.joinable()) thread_.join();
}

void pg_listener::loop() {
  bool warned = false;
  while (!stop_) {
    pg_handle conn;
    try {
      conn = connect(url_);
      for (const auto& ch : channels_) {
        PGresult* r = PQexec(conn.get(), listen_statement(conn.get(), ch).c_str());
        const bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (r) PQclear(r);
        if (!ok) throw std::runtime_error(PQerrorMessage(conn.get()));
      }
    } catch (const std::exception& e) {
      if (!warned) log::warn("database notifications unavailable; retrying", {{"error", e.what()}});
      warned = true;
      pollfd p{wake_[0], POLLIN, 0};
      ::poll(&p, 1, reconnect_ms);
      continue;
    }
    if (warned) log::info("database notifications back");
    warned = false;
    connected_ = true;
    on_resync_();
    while (!stop_) {
      pollfd p[2] = {{PQsocket(conn.get()), POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents) break;
      if (!PQconsumeInput(conn.get())) {
        log::warn("database notification connection lost; reconnecting", {{"error", PQerrorMessage(conn.get())}});
        warned = true;
        break;
      }
      while (PGnotify* n = PQnotifies(conn.get())) {
        std::string channel = n->relname, payload = n->extra;
        PQfreemem(n);
        try {
          on_note_(channel, payload);
        } catch (const std::exception& e) {
          log::warn("a database notification could not be handled", {{"channel", channel}, {"error", e.what()}});
        }
      }
    }
    connected_ = false;
  }
}

}  // namespace berth::store::postgres
