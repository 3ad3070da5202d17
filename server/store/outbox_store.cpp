// The store's outbox tables: deliveries and chat event de-duplication.
#include "server/store/store.hpp"
#include "server/store/user_scope_sql.hpp"

namespace berth::store {
namespace {
constexpr const char* delivery_columns =
    "d.id, d.run_id, d.kind, d.target, d.state, d.payload, d.attempts, d.next_at, d.deadline_at, d.last_error, "
    "d.created_at, d.delivered_at";

delivery_record read_delivery(const sql::row& q) {
  delivery_record d;
  d.id = q.int64(0);
  d.run = q.text(1);
  d.kind = q.text(2);
  d.target = q.text(3);
  d.state = q.text(4);
  d.payload = q.text(5);
  d.attempts = static_cast<int>(q.int64(6));
  d.next_at = q.int64(7);
  d.deadline_at = q.int64(8);
  d.last_error = q.text(9);
  d.created_at = q.int64(10);
  d.delivered_at = q.opt_int64(11);
  return d;
}

std::vector<delivery_record> read_deliveries(const std::vector<sql::row>& rows) {
  std::vector<delivery_record> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(read_delivery(r));
  return out;
}
}  // namespace

std::vector<delivery_record> store::query_deliveries(const std::string& where, const sql::params& p) {
  std::vector<delivery_record> out;
  db_->read([&](sql::connection& c) {
    out = read_deliveries(c.query(std::string("SELECT ") + delivery_columns + " FROM deliveries d " + where, p));
  });
  return out;
}

std::vector<delivery_record> store::waiting_deliveries_of_finished_runs(int limit) {
  std::string terminal;
  for (auto t : terminal_statuses) terminal += (terminal.empty() ? "'" : ", '") + std::string(t) + "'";
  return query_deliveries("JOIN runs r ON r.id = d.run_id WHERE d.state = 'waiting' AND r.status IN (" + terminal +
                              ") ORDER BY d.id LIMIT ?",
                          {static_cast<std::int64_t>(limit)});
}

std::vector<delivery_record> store::due_deliveries(std::int64_t now_ms, int limit) {
  return query_deliveries("WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY d.next_at, d.id LIMIT ?",
                          {now_ms, static_cast<std::int64_t>(limit)});
}

std::vector<delivery_record> store::claim_due_deliveries(const std::string& node, std::int64_t now_ms, std::int64_t lease_ms,
                                                         int limit, std::int64_t node_lease_ms) {
  // One instance sends a delivery: it is claimed until `claimed_until`; a claimer that dies lets it go then.
  const bool pg = db_->kind() == sql::dialect::postgres;
  std::vector<delivery_record> out;
  db_->write([&](sql::connection& c) {
    // Claimable: unclaimed, ours, past its claim, or claimed by a node that is gone (killed mid-send).
    auto ids = c.query(std::string("SELECT id FROM deliveries WHERE state = 'pending' AND next_at <= ? AND "
                                   "(claimed_by = '' OR claimed_by = ? OR claimed_until < ? OR "
                                   "claimed_by NOT IN (SELECT id FROM nodes WHERE seen_at >= ?)) ORDER BY next_at, id LIMIT ?") +
                           (pg ? " FOR UPDATE SKIP LOCKED" : ""),
                       {now_ms, node, now_ms, now_ms - node_lease_ms, static_cast<std::int64_t>(limit)});
    for (const auto& r : ids) {
      c.exec("UPDATE deliveries SET claimed_by = ?, claimed_until = ? WHERE id = ?", {node, now_ms + lease_ms, r.int64(0)});
      auto d = c.query(std::string("SELECT ") + delivery_columns + " FROM deliveries d WHERE d.id = ?", {r.int64(0)});
      if (!d.empty()) out.push_back(read_delivery(d[0]));
    }
  });
  return out;
}

std::optional<std::int64_t> store::next_delivery_at() {
  std::optional<std::int64_t> out;
  db_->read([&](sql::connection& c) {
    out = c.query("SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'").at(0).opt_int64(0);
  });
  return out;
}

void store::update_delivery(std::int64_t id, const delivery_update& u) {
  std::string text = "UPDATE deliveries SET claimed_by = ''";  // a written outcome ends the claim
  sql::params p;
  auto set = [&](const char* column, sql::param v) {
    text += std::string(", ") + column + " = ?";
    p.push_back(std::move(v));
  };
  if (u.state) set("state", *u.state);
  if (u.target) set("target", *u.target);
  if (u.payload) set("payload", *u.payload);
  if (u.attempts) set("attempts", static_cast<std::int64_t>(*u.attempts));
  if (u.next_at) set("next_at", *u.next_at);
  if (u.deadline_at) set("deadline_at", *u.deadline_at);
  if (u.last_error) set("last_error", *u.last_error);
  if (u.delivered_at) set("delivered_at", *u.delivered_at);
  text += " WHERE id = ?";
  p.emplace_back(id);
  if (u.only_if_state) {
    text += " AND state = ?";
    p.emplace_back(*u.only_if_state);
  }
  db_->write([&](sql::connection& c) { c.exec(text, p); });
}

std::vector<delivery_record> store::deliveries_of_run(const std::string& run) {
  return query_deliveries("WHERE d.run_id = ? ORDER BY d.id", {run});
}

std::vector<delivery_record> store::list_deliveries(const std::string& state, int limit,
                                                    const std::vector<std::string>& users) {
  sql::params p;
  std::string where = "JOIN runs r ON r.id = d.run_id WHERE TRUE";
  if (!state.empty()) {
    where += " AND d.state = ?";
    p.emplace_back(state);
  }
  where += users_clause(users, "r.\"user\"", p) + " ORDER BY d.id DESC LIMIT ?";
  p.emplace_back(static_cast<std::int64_t>(limit));
  return query_deliveries(where, p);
}

std::vector<std::pair<std::string, std::int64_t>> store::count_deliveries_by_state(const std::vector<std::string>& users) {
  sql::params p;
  const auto text = "SELECT d.state, COUNT(*) FROM deliveries d JOIN runs r ON r.id = d.run_id WHERE TRUE" +
                    users_clause(users, "r.\"user\"", p) + " GROUP BY d.state";
  std::vector<std::pair<std::string, std::int64_t>> out;
  db_->read([&](sql::connection& c) {
    for (const auto& r : c.query(text, p)) out.emplace_back(r.text(0), r.int64(1));
  });
  return out;
}

bool store::claim_chat_event(const std::string& source, const std::string& id, std::int64_t now_ms) {
  std::int64_t n = 0;
  // New, or claimed long ago by a berthd that died before it could store the run (no run linked): take it.
  db_->write([&](sql::connection& c) {
    n = c.exec("INSERT INTO chat_events (source, event_id, created_at) VALUES (?, ?, ?) "
               "ON CONFLICT (source, event_id) DO UPDATE SET created_at = excluded.created_at "
               "WHERE chat_events.run_id = '' AND chat_events.created_at < ?",
               {source, id, now_ms, now_ms - abandoned_claim_ms});
  });
  return n == 1;
}

void store::link_chat_event(const std::string& source, const std::string& id, const std::string& run) {
  db_->write([&](sql::connection& c) {
    c.exec("UPDATE chat_events SET run_id = ? WHERE source = ? AND event_id = ?", {run, source, id});
  });
}

}  // namespace berth::store
