#include "server/http/tools_handlers.hpp"

#include <nlohmann/json.hpp>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/runs/run_request.hpp"

namespace berth::http {

reply api_tools(app& a, const route_match& m, const request_view& req) {
  using json = nlohmann::json;
  const std::string& user = m.param;
  if (!runs::valid_user(user)) return error_reply(400, "invalid_field", "user must match [A-Za-z0-9_.-]{1,64}");
  if (!scope_allows(req.users, user)) return forbidden_user(user);
  if (req.method == "GET" || req.method == "HEAD") {
    auto text = a.db.user_setting(user, "tools");
    if (!text) return error_reply(404, "not_found", "no tool policy for " + user + " (the operator's applies)");
    return json_reply(200, parse_json(*text));
  }
  if (req.users) return error_reply(403, "forbidden", "only a key that covers every user may change a tool policy (this key is scoped)");
  if (req.method == "DELETE") {
    if (!a.db.delete_user_setting(user, "tools")) return error_reply(404, "not_found", "no tool policy for " + user);
    log::info("tool policy removed", {{"user", user}});
    return json_reply(200, {{"user", user}, {"deleted", true}});
  }
  if (!is_json(req.content_type)) return error_reply(415, "unsupported_media_type", "send the policy as a JSON object (Content-Type: application/json)");
  auto body = parse_json(req.body);
  if (!body.is_object() || body.empty()) return error_reply(400, "invalid_tools", "send {\"allowed_tools\": […], \"disallowed_tools\": […], \"permission_mode\": \"…\"}");
  for (const auto& [k, v] : body.items())
    if (k != "allowed_tools" && k != "disallowed_tools" && k != "permission_mode")
      return error_reply(400, "unknown_field", "unknown field \"" + k + "\" (a tool policy has allowed_tools, disallowed_tools, permission_mode)");
  // The same checks as a request's options, which hold the same three fields.
  runs::parse_run_request(json{{"user", user}, {"message", "-"}, {"options", body}}.dump(), a.manager.limits());
  a.db.set_user_setting(user, "tools", body.dump(), now_ms());
  log::info("tool policy set", {{"user", user}, {"policy", body.dump()}});
  return json_reply(200, body);
}

}  // namespace berth::http
