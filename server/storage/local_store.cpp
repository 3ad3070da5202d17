#include "server/storage/local_store.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/ids.hpp"

namespace berth::storage {
namespace fs = std::filesystem;

local_store::local_store(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) throw storage_error("cannot create " + root_.string() + ": " + ec.message());
}

void local_store::put(const std::string& key, std::string_view data) {
  const auto path = root_ / key;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) throw storage_error("cannot create " + path.parent_path().string() + ": " + ec.message());
  const auto tmp = path.string() + ".tmp-" + new_run_id();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      throw storage_error("cannot write " + tmp);
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw storage_error("cannot write " + path.string() + ": " + ec.message());
  }
}

std::optional<std::string> local_store::get(const std::string& key) {
  std::ifstream in(root_ / key, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool local_store::remove(const std::string& key) {
  std::error_code ec;
  bool removed = fs::remove(root_ / key, ec);
  if (ec) throw storage_error("cannot remove " + (root_ / key).string() + ": " + ec.message());
  return removed;
}

std::vector<std::string> local_store::list(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  const auto base = root_ / prefix;
  if (!fs::exists(base, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(base, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    auto rel = fs::relative(it->path(), root_, ec).generic_string();
    if (rel.find(".tmp-") != std::string::npos) continue;  // a write in progress (or one a crash left)
    out.push_back(rel);
  }
  if (ec) throw storage_error("cannot list " + base.string() + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace berth::storage
