// Which queued runs may start now, given what runs already (over every instance) and the caps. Pure: the store
// calls it inside the transaction that claims them.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace berth::store {

// `queued`: (run id, user), oldest first. `active`: runs per user that hold a slot now. First come first served
// among those whose user is under its cap; at most `limit` picks.
std::vector<std::string> plan_claims(const std::vector<std::pair<std::string, std::string>>& queued,
                                     std::map<std::string, std::int64_t> active, std::int64_t max_concurrent,
                                     std::int64_t max_per_user, std::int64_t limit);

}  // namespace berth::store
