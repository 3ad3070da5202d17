// SQL for a key's user scope (names, or prefixes ending in '*'), shared by the store's files. Internal to
// the store: nothing outside server/store/ includes it.
#pragma once
#include <string>
#include <vector>

#include <SQLiteCpp/Statement.h>

namespace berth::store {

// " AND (column = :p0 OR column LIKE :p1 …)" for a scope's user patterns (a trailing '*' is a prefix match);
// empty for no restriction. bind_users binds the same names.
std::string users_clause(const std::vector<std::string>& patterns, const char* column);
void bind_users(SQLite::Statement& q, const std::vector<std::string>& patterns);

}  // namespace berth::store
