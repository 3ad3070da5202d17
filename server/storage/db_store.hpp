// BERTH_STORAGE=postgres: files in the PostgreSQL store's `stored_files` table (base64 text), so every
// instance on that database, and one started with an empty data dir, has them.
#pragma once
#include "server/storage/file_store.hpp"
#include "server/store/store.hpp"

namespace berth::storage {

class db_store : public file_store {
 public:
  explicit db_store(store::store& db) : db_(db) {}
  void put(const std::string& key, std::string_view data) override;
  std::optional<std::string> get(const std::string& key) override;
  bool remove(const std::string& key) override;
  std::vector<std::string> list(const std::string& prefix) override;
  std::string describe() const override { return "postgres (the store's stored_files table)"; }

 private:
  store::store& db_;
};

}  // namespace berth::storage
