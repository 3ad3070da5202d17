// `berthd --migrate-from-sqlite PATH`: copies an embedded history (runs, events, replies, chat de-duplication,
// instructions and the instance's settings) into the database the store is on (PostgreSQL). Idempotent: rows
// already there are kept, so an interrupted copy can simply be run again. Logins and node heartbeats are not
// history and are not copied.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "server/store/store.hpp"

namespace berth::store {

// Rows read from the source, per table, in copy order.
using copy_counts = std::vector<std::pair<std::string, std::int64_t>>;

copy_counts copy_history(const std::string& sqlite_path, store& target);

}  // namespace berth::store
