// SQL for a key's user scope (names, or prefixes ending in '*'), shared by the store's files. Internal to
// the store: nothing outside server/store/ includes it.
#pragma once
#include <string>
#include <vector>

#include "server/store/sql.hpp"

namespace berth::store {

// " AND (column = ? OR column LIKE ? …)" for a scope's user patterns (a trailing '*' is a prefix match), whose
// values are appended to `p` in order; empty for no restriction.
std::string users_clause(const std::vector<std::string>& patterns, const char* column, sql::params& p);

}  // namespace berth::store
