// BERTH_STORAGE=local: files under a directory of the data dir, each written to a temporary name and renamed,
// so a reader never sees half a file.
#pragma once
#include <filesystem>

#include "server/storage/file_store.hpp"

namespace berth::storage {

class local_store : public file_store {
 public:
  explicit local_store(std::filesystem::path root);
  void put(const std::string& key, std::string_view data) override;
  std::optional<std::string> get(const std::string& key) override;
  bool remove(const std::string& key) override;
  std::vector<std::string> list(const std::string& prefix) override;
  std::string describe() const override { return "local " + root_.string(); }

 private:
  std::filesystem::path root_;
};

}  // namespace berth::storage
