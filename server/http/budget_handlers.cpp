#include "server/http/budget_handlers.hpp"

#include <nlohmann/json.hpp>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/runs/budgets.hpp"
#include "server/runs/run_request.hpp"

namespace berth::http {
namespace {
using json = nlohmann::json;

json budget_state(app& a, const std::string& user) {
  const auto now = now_ms();
  auto spent = a.spend.today(now);
  auto s = spent.find(user);
  auto b = a.spend.budget_of(user);
  json j = {{"user", user},
            {"budget", b ? runs::budget_json(*b) : json(nullptr)},
            {"today", runs::spend_json(s == spent.end() ? runs::spend{} : s->second)},
            {"day", runs::utc_day(now)},
            {"resets_at", format_time_ms(runs::next_utc_midnight_ms(now))}};
  if (auto over = a.spend.check(user, now)) j["exceeded"] = over->reason;
  return j;
}
}  // namespace

reply api_budget(app& a, const route_match& m, const request_view& req) {
  const std::string& user = m.param;
  if (!runs::valid_user(user)) return error_reply(400, "invalid_field", "user must match [A-Za-z0-9_.-]{1,64}");
  if (!scope_allows(req.users, user)) return forbidden_user(user);
  if (req.method == "GET" || req.method == "HEAD") return json_reply(200, budget_state(a, user));
  if (req.users)
    return error_reply(403, "forbidden", "only a key that covers every user may change a budget (this key is scoped)");
  if (req.method == "DELETE") {
    if (!a.db.delete_user_setting(user, "budget")) return error_reply(404, "not_found", "no budget for " + user);
    a.spend.set_budget(user, std::nullopt);
    log::info("budget removed", {{"user", user}});
    return json_reply(200, budget_state(a, user));
  }
  if (!is_json(req.content_type)) return error_reply(415, "unsupported_media_type", "send the budget as a JSON object (Content-Type: application/json)");
  std::string why;
  auto b = runs::parse_budget(parse_json(req.body), why);
  if (!b) return error_reply(400, "invalid_budget", why);
  a.db.set_user_setting(user, "budget", runs::budget_json(*b).dump(), now_ms());
  a.spend.set_budget(user, *b);
  log::info("budget set", {{"user", user}, {"budget", runs::budget_json(*b).dump()}});
  return json_reply(200, budget_state(a, user));
}

}  // namespace berth::http
