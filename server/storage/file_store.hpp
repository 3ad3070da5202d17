// Where users' skills, subagents and MCP settings are kept (BERTH_STORAGE): under the data dir (`local`, the
// default), in an S3 bucket (`s3://bucket/prefix`), or in PostgreSQL (`postgres`, with the PostgreSQL store).
// The store is their record; berthd keeps no other copy that matters, so an instance that starts with an
// empty data dir against the same bucket or database has them all. Keys are berth's own
// (`skills/user/<user>/<name>.tar`), already validated; values are small (limits in config). Blocking; every
// failure throws storage_error with a message fit for the caller.
#pragma once
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace berth::storage {

struct storage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class file_store {
 public:
  virtual ~file_store() = default;
  virtual void put(const std::string& key, std::string_view data) = 0;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  virtual bool remove(const std::string& key) = 0;  // false when there was nothing
  virtual std::vector<std::string> list(const std::string& prefix) = 0;  // keys, sorted
  virtual std::string describe() const = 0;  // for the log and /health: never a secret
  virtual void check() {}                      // at start: throws storage_error when the store cannot be used
};

}  // namespace berth::storage
