#include "server/http/schedules_handlers.hpp"

#include <variant>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/chat/callback.hpp"
#include "server/chat/signing.hpp"
#include "server/http/app.hpp"
#include "server/runs/run_request.hpp"
#include "server/schedule/cron.hpp"
#include "server/schedule/firing.hpp"

namespace berth::http {
namespace {
using json = nlohmann::json;

constexpr std::size_t max_schedules_per_user = 100;
constexpr const char* heartbeat_prompt =
    "Read HEARTBEAT.md in your workspace and do what it asks. If nothing needs attention, answer exactly HEARTBEAT_OK.";

json schedule_json(const store::schedule_record& s) {
  json j = {{"id", s.id},
            {"user", s.user},
            {"kind", s.kind},
            {"message", s.message},
            {"paused", s.paused},
            {"missed", s.missed},
            {"timezone", s.timezone},
            {"next_run", s.paused || s.next_at >= schedule::never_ms ? json(nullptr) : json(format_time_ms(s.next_at))},
            {"created_at", format_time_ms(s.created_at)}};
  if (!s.cron.empty()) j["cron"] = s.cron;
  if (s.interval_s > 0) j["interval_s"] = s.interval_s;
  if (!s.engine.empty()) j["engine"] = s.engine;
  if (!s.session.empty()) j["session"] = s.session;
  if (!s.model.empty()) j["model"] = s.model;
  if (s.options != "{}") j["options"] = parse_json(s.options);
  if (s.kind == "heartbeat") j["reply"] = parse_json(s.replies);
  return j;
}

// Fields a schedule shares with a run are checked as a run would be (same limits, same messages).
void check_run_fields(app& a, const json& body, store::schedule_record& s) {
  json run = json::object();
  for (const char* k : {"user", "message", "engine", "session", "model", "options"})
    if (body.contains(k)) run[k] = body[k];
  auto r = runs::parse_run_request(run.dump(), a.manager.limits());
  s.user = r.user;
  s.message = r.message;
  s.engine = body.contains("engine") ? r.engine : "";
  s.session = r.session;
  s.model = r.model;
  s.options = r.options.dump();
}

// cron | interval_s, timezone, missed → the schedule, or a 400 naming what is wrong.
std::optional<reply> check_timing(app& a, const json& body, store::schedule_record& s, std::int64_t now) {
  const bool has_cron = body.contains("cron"), has_interval = body.contains("interval_s");
  if (has_cron == has_interval) return error_reply(400, "invalid_field", "give exactly one of \"cron\" and \"interval_s\"");
  if (body.contains("timezone")) {
    if (!body["timezone"].is_string()) return error_reply(400, "invalid_field", "\"timezone\" must be a string (IANA name)");
    s.timezone = body["timezone"].get<std::string>();
  }
  if (!schedule::find_zone(s.timezone)) return error_reply(400, "invalid_timezone", "unknown time zone \"" + s.timezone + "\"");
  if (body.contains("missed")) {
    if (!body["missed"].is_string() || (body["missed"] != "skip" && body["missed"] != "once"))
      return error_reply(400, "invalid_field", "\"missed\" must be \"skip\" or \"once\"");
    s.missed = body["missed"].get<std::string>();
  }
  const std::int64_t min_ms = static_cast<std::int64_t>(a.cfg.schedule_min_interval_s) * 1000;
  if (has_interval) {
    if (!body["interval_s"].is_number_integer() || body["interval_s"].get<std::int64_t>() < 1)
      return error_reply(400, "invalid_field", "\"interval_s\" must be a positive integer");
    s.interval_s = body["interval_s"].get<std::int64_t>();
    if (s.interval_s * 1000 < min_ms)
      return error_reply(400, "interval_too_short", "interval_s is below BERTH_SCHEDULE_MIN_INTERVAL_S (" +
                                                        std::to_string(a.cfg.schedule_min_interval_s) + ")");
  } else {
    if (!body["cron"].is_string()) return error_reply(400, "invalid_field", "\"cron\" must be a string");
    s.cron = body["cron"].get<std::string>();
    auto parsed = schedule::parse_cron(s.cron);
    if (auto* e = std::get_if<schedule::cron_error>(&parsed))
      return error_reply(400, "invalid_cron", e->message);
  }
  s.created_at = now;
  auto first = schedule::next_firing_after(s, now);
  if (!first) return error_reply(400, "invalid_cron", "the cron expression never fires");
  if (!has_interval) {
    auto second = schedule::next_firing_after(s, *first);
    if (second && *second - *first < min_ms)
      return error_reply(400, "interval_too_short", "the cron expression fires more often than BERTH_SCHEDULE_MIN_INTERVAL_S (" +
                                                        std::to_string(a.cfg.schedule_min_interval_s) + " s) allows");
  }
  s.next_at = *first;
  return std::nullopt;
}

std::optional<json> json_body(const request_view& req) {
  if (!is_json(req.content_type)) return std::nullopt;
  auto j = parse_json(req.body);
  if (!j.is_object()) return std::nullopt;
  return j;
}

std::optional<reply> unknown_fields(const json& body, std::initializer_list<const char*> known) {
  for (const auto& [k, v] : body.items()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok) return error_reply(400, "unknown_field", "unknown field \"" + k + "\"");
  }
  return std::nullopt;
}

// The schedule `m.param` names, if the caller may see it.
std::optional<store::schedule_record> visible(app& a, const route_match& m, const request_view& req) {
  auto s = a.db.get_schedule(m.param);
  if (!s || !scope_allows(req.users, s->user)) return std::nullopt;
  return s;
}

reply not_found(const std::string& id) { return error_reply(404, "not_found", "no schedule " + id); }

// A heartbeat's reply: {"slack": {"channel", "thread_ts"?}} | {"telegram": {"chat_id"}} | {"callback_url"}.
std::variant<json, reply> reply_routes(app& a, const json& reply_spec, const request_view& req) {
  json routes = json::array();
  if (!reply_spec.is_object() || reply_spec.size() != 1)
    return error_reply(400, "invalid_field", "\"reply\" must name one of slack, telegram, callback_url");
  if (reply_spec.contains("slack") && !string_at(reply_spec["slack"], "channel").empty()) {
    routes.push_back({{"kind", "slack"}, {"target", {{"channel", reply_spec["slack"]["channel"]}, {"thread_ts", ""}}}});
  } else if (reply_spec.contains("telegram") && reply_spec["telegram"].is_object() &&
             reply_spec["telegram"].contains("chat_id") && reply_spec["telegram"]["chat_id"].is_number_integer()) {
    routes.push_back({{"kind", "telegram"}, {"target", {{"chat_id", reply_spec["telegram"]["chat_id"]}}}});
  } else if (reply_spec.contains("callback_url") && reply_spec["callback_url"].is_string()) {
    const auto url = reply_spec["callback_url"].get<std::string>();
    if (auto why = chat::check_callback_url(url, a.cfg.callback_allow); !why.empty()) return error_reply(400, "callback_not_allowed", why);
    routes.push_back({{"kind", "callback"}, {"target", {{"url", url}, {"key_id", chat::key_id(presented_key(req.api_key, req.authorization))}}}});
  } else {
    return error_reply(400, "invalid_field", "\"reply\" must be {\"slack\": {\"channel\"}}, {\"telegram\": {\"chat_id\"}} or {\"callback_url\"}");
  }
  return routes;
}
}  // namespace

reply api_create_schedule(app& a, const route_match&, const request_view& req) {
  auto body = json_body(req);
  if (!body) return error_reply(415, "unsupported_media_type", "send the schedule as a JSON object (Content-Type: application/json)");
  if (auto bad = unknown_fields(*body, {"user", "message", "engine", "session", "model", "options", "cron", "interval_s",
                                        "timezone", "missed"}))
    return *bad;
  store::schedule_record s;
  check_run_fields(a, *body, s);
  if (!scope_allows(req.users, s.user)) return forbidden_user(s.user);
  const auto now = now_ms();
  if (auto bad = check_timing(a, *body, s, now)) return *bad;
  if (a.db.list_schedules(s.user).size() >= max_schedules_per_user)
    return error_reply(429, "too_many_schedules", "a user may have at most " + std::to_string(max_schedules_per_user) + " schedules");
  s.id = new_run_id();
  a.db.insert_schedule(s);
  log::info("schedule created", {{"schedule", s.id}, {"user", s.user}, {"next_run", format_time_ms(s.next_at)}});
  return json_reply(201, {{"id", s.id}, {"next_run", format_time_ms(s.next_at)}});
}

reply api_list_schedules(app& a, const route_match& m, const request_view& req) {
  std::string user;
  if (auto it = m.query.find("user"); it != m.query.end()) user = it->second;
  if (!user.empty() && !runs::valid_user(user)) return error_reply(400, "invalid_query", "user must match [A-Za-z0-9_.-]{1,64}");
  if (!user.empty() && !scope_allows(req.users, user)) return forbidden_user(user);
  json list = json::array();
  for (const auto& s : a.db.list_schedules(user, req.users ? *req.users : std::vector<std::string>{})) list.push_back(schedule_json(s));
  return json_reply(200, {{"schedules", list}});
}

reply api_schedule(app& a, const route_match& m, const request_view& req) {
  auto s = visible(a, m, req);
  if (!s) return not_found(m.param);
  if (req.method == "DELETE") {
    a.db.delete_schedule(s->id);
    log::info("schedule deleted", {{"schedule", s->id}, {"user", s->user}});
    return json_reply(200, {{"id", s->id}, {"deleted", true}});
  }
  return json_reply(200, schedule_json(*s));
}

reply api_pause_schedule(app& a, const route_match& m, const request_view& req) {
  auto s = visible(a, m, req);
  if (!s) return not_found(m.param);
  a.db.set_schedule_paused(s->id, true, s->next_at);
  s->paused = true;
  return json_reply(200, schedule_json(*s));
}

reply api_resume_schedule(app& a, const route_match& m, const request_view& req) {
  auto s = visible(a, m, req);
  if (!s) return not_found(m.param);
  // Firings while paused are not made up: the next one after now.
  s->next_at = schedule::next_firing_after(*s, now_ms()).value_or(schedule::never_ms);
  s->paused = false;
  a.db.set_schedule_paused(s->id, false, s->next_at);
  return json_reply(200, schedule_json(*s));
}

reply api_heartbeat(app& a, const route_match& m, const request_view& req) {
  const std::string& user = m.param;
  if (!runs::valid_user(user)) return error_reply(400, "invalid_field", "user must match [A-Za-z0-9_.-]{1,64}");
  if (!scope_allows(req.users, user)) return forbidden_user(user);
  const std::string id = "heartbeat-" + user;
  if (req.method == "GET" || req.method == "HEAD") {
    auto s = a.db.get_schedule(id);
    if (!s) return error_reply(404, "not_found", "no heartbeat for " + user);
    return json_reply(200, schedule_json(*s));
  }
  if (req.method == "DELETE") {
    if (!a.db.delete_schedule(id)) return error_reply(404, "not_found", "no heartbeat for " + user);
    return json_reply(200, {{"user", user}, {"deleted", true}});
  }
  auto body = json_body(req);
  if (!body) return error_reply(415, "unsupported_media_type", "send the heartbeat as a JSON object (Content-Type: application/json)");
  if (auto bad = unknown_fields(*body, {"interval_s", "reply", "message", "engine", "session", "model", "options"})) return *bad;
  if (!body->contains("reply")) return error_reply(400, "invalid_field", "a heartbeat needs \"reply\": where its findings go");
  json fields = *body;
  fields["user"] = user;
  if (!fields.contains("message")) fields["message"] = heartbeat_prompt;
  store::schedule_record s;
  s.kind = "heartbeat";
  check_run_fields(a, fields, s);
  if (auto bad = check_timing(a, json{{"interval_s", body->value("interval_s", json(nullptr))}}, s, now_ms())) return *bad;
  auto routes = reply_routes(a, (*body)["reply"], req);
  if (auto* bad = std::get_if<reply>(&routes)) return *bad;
  s.replies = std::get<json>(routes).dump();
  s.id = id;
  a.db.insert_schedule(s);
  log::info("heartbeat set", {{"user", user}, {"interval_s", std::to_string(s.interval_s)}});
  return json_reply(200, schedule_json(s));
}

}  // namespace berth::http
