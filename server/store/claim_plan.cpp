#include "server/store/claim_plan.hpp"

namespace berth::store {

std::vector<std::string> plan_claims(const std::vector<std::pair<std::string, std::string>>& queued,
                                     std::map<std::string, std::int64_t> active, std::int64_t max_concurrent,
                                     std::int64_t max_per_user, std::int64_t limit) {
  std::int64_t total = 0;
  for (const auto& [user, n] : active) total += n;
  std::vector<std::string> picks;
  for (const auto& [id, user] : queued) {
    if (total >= max_concurrent || static_cast<std::int64_t>(picks.size()) >= limit) break;
    auto& mine = active[user];
    if (mine >= max_per_user) continue;
    ++mine;
    ++total;
    picks.push_back(id);
  }
  return picks;
}

}  // namespace berth::store
