#include "server/storage/db_store.hpp"

#include <boost/beast/core/detail/base64.hpp>

#include "common/base64.hpp"
#include "common/strings.hpp"

namespace berth::storage {
namespace b64 = boost::beast::detail::base64;

namespace {
// Store failures are storage failures to the callers of a file_store.
template <class F>
auto guarded(const char* what, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const storage_error&) {
    throw;
  } catch (const std::exception& e) {
    throw storage_error(std::string("the database could not ") + what + ": " + e.what());
  }
}
}  // namespace

void db_store::put(const std::string& key, std::string_view data) {
  const std::string text = base64_encode(data);
  guarded("store a file", [&] { db_.put_file(key, text, now_ms()); });
}

std::optional<std::string> db_store::get(const std::string& key) {
  auto text = guarded("read a file", [&] { return db_.file(key); });
  if (!text) return std::nullopt;
  std::string out(b64::decoded_size(text->size()), '\0');
  auto [written, read] = b64::decode(out.data(), text->data(), text->size());
  std::size_t padding = 0;
  while (padding < text->size() && (*text)[text->size() - 1 - padding] == '=') ++padding;
  if (read + padding != text->size()) throw storage_error("stored file " + key + " is not valid base64");
  out.resize(written);
  return out;
}

bool db_store::remove(const std::string& key) { return guarded("remove a file", [&] { return db_.delete_file(key); }); }

std::vector<std::string> db_store::list(const std::string& prefix) {
  return guarded("list files", [&] { return db_.file_keys(prefix); });
}

}  // namespace berth::storage
