// The store's per-user settings (JSON by kind: a budget, a tool policy), what each user spent per UTC day
// (added in the same transaction as the run's usage, so a restart neither loses nor doubles any), and the
// files BERTH_STORAGE=postgres keeps here.
#include "server/store/store.hpp"

namespace berth::store {

void store::set_user_setting(const std::string& user, const std::string& kind, const std::string& value, std::int64_t now) {
  db_->write([&](sql::connection& c) {
    c.exec("INSERT INTO user_settings (\"user\", kind, value, updated_at) VALUES (?, ?, ?, ?) "
           "ON CONFLICT (\"user\", kind) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
           {user, kind, value, now});
  });
}

std::optional<std::string> store::user_setting(const std::string& user, const std::string& kind) {
  std::optional<std::string> out;
  db_->read([&](sql::connection& c) {
    auto r = c.query("SELECT value FROM user_settings WHERE \"user\" = ? AND kind = ?", {user, kind});
    if (!r.empty()) out = r[0].text(0);
  });
  return out;
}

bool store::delete_user_setting(const std::string& user, const std::string& kind) {
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) { n = c.exec("DELETE FROM user_settings WHERE \"user\" = ? AND kind = ?", {user, kind}); });
  return n > 0;
}

std::vector<std::pair<std::string, std::string>> store::user_settings_of(const std::string& kind) {
  std::vector<std::pair<std::string, std::string>> out;
  db_->read([&](sql::connection& c) {
    for (const auto& r : c.query("SELECT \"user\", value FROM user_settings WHERE kind = ? ORDER BY \"user\"", {kind}))
      out.emplace_back(r.text(0), r.text(1));
  });
  return out;
}

std::vector<user_spend> store::spend_on(const std::string& day) {
  std::vector<user_spend> out;
  db_->read([&](sql::connection& c) {
    for (const auto& r : c.query("SELECT \"user\", tokens, cost_micros FROM spend_daily WHERE day = ? ORDER BY \"user\"", {day}))
      out.push_back({r.text(0), day, r.int64(1), r.int64(2)});
  });
  return out;
}

void store::put_file(const std::string& key, const std::string& content, std::int64_t now) {
  db_->write([&](sql::connection& c) {
    c.exec("INSERT INTO stored_files (key, content, updated_at) VALUES (?, ?, ?) "
           "ON CONFLICT (key) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at",
           {key, content, now});
  });
}

std::optional<std::string> store::file(const std::string& key) {
  std::optional<std::string> out;
  db_->read([&](sql::connection& c) {
    auto r = c.query("SELECT content FROM stored_files WHERE key = ?", {key});
    if (!r.empty()) out = r[0].text(0);
  });
  return out;
}

bool store::delete_file(const std::string& key) {
  std::int64_t n = 0;
  db_->write([&](sql::connection& c) { n = c.exec("DELETE FROM stored_files WHERE key = ?", {key}); });
  return n > 0;
}

std::vector<std::string> store::file_keys(const std::string& prefix) {
  std::vector<std::string> out;
  db_->read([&](sql::connection& c) {
    for (const auto& r : c.query("SELECT key FROM stored_files WHERE substr(key, 1, ?) = ? ORDER BY key",
                                 {static_cast<std::int64_t>(prefix.size()), prefix}))
      out.push_back(r.text(0));
  });
  return out;
}

}  // namespace berth::store
