// What several instances on one database share beyond runs and events: who is alive (nodes and their
// heartbeats), who follows which run (runs.owner), the queue's claims, cancels asked of another instance, and
// dashboard logins. On SQLite there is one instance at a time; the same statements hold.
#include "server/store/claim_plan.hpp"
#include "server/store/store.hpp"

namespace berth::store {
namespace {

constexpr std::int64_t claim_lock_key = 0x62657274680002;  // serializes claims, so caps hold exactly

// An owner that is nobody, the asking node itself, or a node whose heartbeat is older than the lease.
constexpr const char* adoptable_owner =
    "(owner = '' OR owner = ? OR owner NOT IN (SELECT id FROM nodes WHERE seen_at >= ?))";

}  // namespace

void store::heartbeat(const std::string& node, std::int64_t now_ms) {
  db_->write([&](sql::connection& c) {
    c.exec("INSERT INTO nodes (id, seen_at, started_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
           {node, now_ms, now_ms});
    // Nodes silent for a day are history.
    c.exec("DELETE FROM nodes WHERE seen_at < ?", {now_ms - 86400000});
  });
}

void store::forget_node(const std::string& node) {
  db_->write([&](sql::connection& c) { c.exec("DELETE FROM nodes WHERE id = ?", {node}); });
}

std::int64_t store::count_waiting() {
  std::int64_t n = 0;
  db_->read([&](sql::connection& c) {
    n = c.query("SELECT COUNT(*) FROM runs WHERE status = 'queued' AND owner = ''").at(0).int64(0);
  });
  return n;
}

std::vector<run_record> store::claim_queued(const std::string& node, const claim_caps& caps) {
  const bool pg = db_->kind() == sql::dialect::postgres;
  std::vector<std::string> picks;
  db_->write([&](sql::connection& c) {
    if (pg) c.query("SELECT pg_advisory_xact_lock(?)", {claim_lock_key});
    std::map<std::string, std::int64_t> active;
    for (const auto& r : c.query("SELECT \"user\", COUNT(*) FROM runs WHERE status IN ('starting', 'running') OR "
                                 "(status = 'queued' AND owner != '') GROUP BY \"user\""))
      active[r.text(0)] = r.int64(1);
    std::vector<std::pair<std::string, std::string>> queued;
    for (const auto& r : c.query(std::string("SELECT id, \"user\" FROM runs WHERE status = 'queued' AND owner = '' "
                                             "ORDER BY id LIMIT 1024") + (pg ? " FOR UPDATE SKIP LOCKED" : "")))
      queued.emplace_back(r.text(0), r.text(1));
    picks = plan_claims(queued, std::move(active), caps.max_concurrent, caps.max_per_user, caps.limit);
    for (const auto& id : picks) c.exec("UPDATE runs SET owner = ? WHERE id = ?", {node, id});
  });
  std::vector<run_record> out;
  for (const auto& id : picks)
    if (auto r = get_run(id)) out.push_back(std::move(*r));
  return out;
}

void store::release_claim(const std::string& run, const std::string& node) {
  db_->write([&](sql::connection& c) {
    c.exec("UPDATE runs SET owner = '' WHERE id = ? AND owner = ? AND status = 'queued'", {run, node});
    if (db_->kind() == sql::dialect::postgres) c.query("SELECT pg_notify(?, ?)", {std::string(queue_channel), run});
  });
}

bool store::claim_for_cancel(const std::string& run, const std::string& node) {
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) {
    n = c.exec("UPDATE runs SET owner = ? WHERE id = ? AND status = 'queued' AND owner = ''", {node, run});
  });
  return n == 1;
}

std::vector<std::string> store::adoptable_runs(const std::string& node, std::int64_t now_ms, std::int64_t lease_ms, bool own) {
  std::vector<std::string> out;
  db_->read([&](sql::connection& c) {
    // Not `own`: never this node's runs, even on SQLite where a lease of 0 makes every heartbeat "old".
    for (const auto& r : c.query(std::string("SELECT id FROM runs WHERE status IN ('starting', 'running') AND ") +
                                     (own ? "" : "owner != ? AND ") + adoptable_owner + " ORDER BY id",
                                 own ? sql::params{node, now_ms - lease_ms} : sql::params{node, node, now_ms - lease_ms}))
      out.push_back(r.text(0));
  });
  return out;
}

bool store::take_over(const std::string& run, const std::string& node, std::int64_t now_ms, std::int64_t lease_ms) {
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) {
    n = c.exec(std::string("UPDATE runs SET owner = ? WHERE id = ? AND status IN ('starting', 'running') AND ") +
                   adoptable_owner,
               {node, run, node, now_ms - lease_ms});
  });
  return n == 1;
}

int store::release_dead_claims(const std::string& node, std::int64_t now_ms, std::int64_t lease_ms) {
  // Looked for first: the common answer is none, and a read does not wait for the write lock. Never the
  // asking node's own claims: it is launching them (on SQLite a lease of 0 makes every heartbeat "old", and
  // its own claims released between claim and launch were claimed and launched a second time).
  constexpr const char* dead_claims =
      "status = 'queued' AND owner != '' AND owner != ? AND owner NOT IN (SELECT id FROM nodes WHERE seen_at >= ?)";
  bool any = false;
  db_->read([&](sql::connection& c) {
    any = !c.query(std::string("SELECT id FROM runs WHERE ") + dead_claims + " LIMIT 1", {node, now_ms - lease_ms}).empty();
  });
  if (!any) return 0;
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) {
    n = c.exec(std::string("UPDATE runs SET owner = '' WHERE ") + dead_claims, {node, now_ms - lease_ms});
    if (n > 0 && db_->kind() == sql::dialect::postgres) c.query("SELECT pg_notify(?, '')", {std::string(queue_channel)});
  });
  return static_cast<int>(n);
}

void store::request_cancel(const std::string& run) {
  db_->write([&](sql::connection& c) {
    c.exec("UPDATE runs SET cancel_requested = 1 WHERE id = ?", {run});
    if (db_->kind() == sql::dialect::postgres) c.query("SELECT pg_notify(?, ?)", {std::string(cancel_channel), run});
  });
}

std::vector<std::string> store::cancel_requests(const std::string& node) {
  std::vector<std::string> out;
  db_->read([&](sql::connection& c) {
    for (const auto& r : c.query("SELECT id FROM runs WHERE owner = ? AND cancel_requested = 1 AND "
                                 "status IN ('queued', 'starting', 'running')",
                                 {node}))
      out.push_back(r.text(0));
  });
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> store::live_nodes(std::int64_t now_ms, std::int64_t lease_ms) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  db_->read([&](sql::connection& c) {
    for (const auto& r : c.query("SELECT id, seen_at FROM nodes WHERE seen_at >= ? ORDER BY id", {now_ms - lease_ms}))
      out.emplace_back(r.text(0), r.int64(1));
  });
  return out;
}

void store::put_login(const std::string& token_hash, const stored_login& l, std::int64_t now_ms, std::size_t max_logins) {
  db_->write([&](sql::connection& c) {
    c.exec("DELETE FROM dashboard_sessions WHERE expires_at <= ?", {now_ms});
    auto n = c.query("SELECT COUNT(*) FROM dashboard_sessions").at(0).int64(0);
    if (n >= static_cast<std::int64_t>(max_logins))  // full: the login closest to expiry gives way
      c.exec("DELETE FROM dashboard_sessions WHERE token_hash IN "
             "(SELECT token_hash FROM dashboard_sessions ORDER BY expires_at LIMIT ?)",
             {n - static_cast<std::int64_t>(max_logins) + 1});
    sql::param users = l.users ? sql::param(*l.users) : sql::param(nullptr);
    c.exec("INSERT INTO dashboard_sessions (token_hash, csrf, users, expires_at) VALUES (?, ?, ?, ?)",
           {token_hash, l.csrf, users, l.expires_at});
  });
}

std::optional<stored_login> store::find_login(const std::string& token_hash, std::int64_t now_ms) {
  std::optional<stored_login> out;
  db_->read([&](sql::connection& c) {
    auto r = c.query("SELECT csrf, users, expires_at FROM dashboard_sessions WHERE token_hash = ? AND expires_at > ?",
                     {token_hash, now_ms});
    if (r.empty()) return;
    stored_login l;
    l.csrf = r[0].text(0);
    if (!r[0].is_null(1)) l.users = r[0].text(1);
    l.expires_at = r[0].int64(2);
    out = std::move(l);
  });
  return out;
}

void store::remove_login(const std::string& token_hash) {
  db_->write([&](sql::connection& c) { c.exec("DELETE FROM dashboard_sessions WHERE token_hash = ?", {token_hash}); });
}

std::int64_t store::count_logins(std::int64_t now_ms) {
  std::int64_t n = 0;
  db_->read([&](sql::connection& c) {
    n = c.query("SELECT COUNT(*) FROM dashboard_sessions WHERE expires_at > ?", {now_ms}).at(0).int64(0);
  });
  return n;
}

}  // namespace berth::store
