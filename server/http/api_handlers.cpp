#include "server/http/api_handlers.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "common/json_bounded.hpp"
#include "common/usage.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/http/dashboard_handlers.hpp"
#include "server/http/hooks_handlers.hpp"
#include "server/http/http_error.hpp"
#include "server/chat/callback.hpp"
#include "server/chat/signing.hpp"
#include "server/http/sse.hpp"
#include "server/runs/metrics.hpp"
#include "server/runs/run_request.hpp"

namespace berth::http {
namespace {
using json = nlohmann::json;

constexpr int default_list_limit = 50;
constexpr int max_list_limit = 500;
constexpr std::size_t message_preview_bytes = 200;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string preview(const std::string& s) {
  if (s.size() <= message_preview_bytes) return s;
  std::size_t n = message_preview_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // whole UTF-8 characters only
  return s.substr(0, n) + "…";
}

bool wants_sse(std::string_view accept) { return accept.find("text/event-stream") != std::string_view::npos; }

}  // namespace

bool is_json(std::string_view ct) {
  auto semi = ct.find(';');
  return ascii_lower(trim(ct.substr(0, semi))) == "application/json";
}

reply forbidden_user(const std::string& user) {
  return error_reply(403, "forbidden_user", "this key may not see or act for user " + user);
}

reply api_create_run(app& a, const route_match&, const request_view& req) {
  if (!is_json(req.content_type))
    return error_reply(415, "unsupported_media_type", "send the run as Content-Type: application/json");
  auto r = runs::parse_run_request(req.body, a.manager.limits());
  if (!scope_allows(req.users, r.user)) return forbidden_user(r.user);
  if (!r.callback_url.empty()) {
    if (auto why = chat::check_callback_url(r.callback_url, a.cfg.callback_allow); !why.empty()) {
      log::warn("callback_url refused", {{"why", why}});
      return error_reply(400, "callback_not_allowed", why);
    }
    // The key that started the run signs its callback; the row records only which key it was.
    auto key = presented_key(req.api_key, req.authorization);
    r.replies.push_back({"callback", dump(json{{"url", r.callback_url}, {"key_id", chat::key_id(key)}})});
  }
  auto rec = a.manager.submit(r);
  if (wants_sse(req.accept)) {
    reply out;
    out.sse = sse_plan{rec.id, 0, {}};
    return out;
  }
  reply out = json_reply(202, {{"id", rec.id}, {"status", rec.status}, {"events", "/api/v1/runs/" + rec.id + "/events"}});
  out.headers.emplace_back("Location", "/api/v1/runs/" + rec.id);
  return out;
}

reply api_list_deliveries(app& a, const route_match& m, const request_view& req) {
  auto state = m.query.count("state") ? m.query.at("state") : std::string();
  if (!state.empty() && std::find(store::delivery_states.begin(), store::delivery_states.end(), state) == store::delivery_states.end())
    return error_reply(400, "invalid_query", "state must be one of waiting, pending, delivered, failed");
  json list = json::array();
  for (const auto& d : a.db.list_deliveries(state, max_list_limit, req.users ? *req.users : std::vector<std::string>{}))
    list.push_back(delivery_json(d));
  return json_reply(200, {{"deliveries", list}});
}

reply api_list_sessions(app& a, const route_match& m, const request_view& req) {
  auto it = m.query.find("user");
  if (it == m.query.end() || !runs::valid_user(it->second))
    return error_reply(400, "invalid_query", "user is required and must match [A-Za-z0-9_.-]{1,64}");
  if (!scope_allows(req.users, it->second)) return forbidden_user(it->second);
  constexpr int max_runs = 1000;
  auto rows = a.db.session_runs(it->second, max_runs);  // newest first
  json sessions = json::array();
  std::map<std::string, std::size_t> index;
  for (const auto& r : rows) {
    auto [pos, fresh] = index.try_emplace(r.session, sessions.size());
    if (fresh)
      sessions.push_back({{"session", r.session}, {"user", r.user}, {"last_run_at", format_time_ms(r.created_at)},
                          {"runs", json::array()}});
    sessions[pos->second]["runs"].push_back({{"id", r.id}, {"status", r.status}, {"created_at", format_time_ms(r.created_at)}});
  }
  return json_reply(200, {{"user", it->second}, {"sessions", sessions}});
}

reply api_instructions(app& a, const route_match& m, const request_view& req) {
  const std::string& user = m.param;
  if (!runs::valid_user(user)) return error_reply(400, "invalid_field", "user must match [A-Za-z0-9_.-]{1,64}");
  if (!scope_allows(req.users, user)) return forbidden_user(user);
  if (req.method == "GET" || req.method == "HEAD") {
    auto text = a.instructions.get(user);
    if (!text) return error_reply(404, "not_found", "no instructions for " + user);
    return json_reply(200, {{"user", user}, {"instructions", *text}});
  }
  if (req.method == "DELETE") {
    if (!a.instructions.remove(user)) return error_reply(404, "not_found", "no instructions for " + user);
    return json_reply(200, {{"user", user}, {"deleted", true}});
  }
  std::string text;
  if (is_json(req.content_type)) {
    auto j = parse_json(req.body);
    if (!j.is_object() || !j.contains("instructions") || !j["instructions"].is_string() || j.size() != 1)
      return error_reply(400, "invalid_json", "send {\"instructions\": \"...\"} or a text/plain body");
    text = j["instructions"].get<std::string>();
  } else if (starts_with(req.content_type, "text/plain")) {
    text = std::string(req.body);
  } else {
    return error_reply(415, "unsupported_media_type", "send instructions as application/json or text/plain");
  }
  if (text.size() > runs::max_instructions_bytes) return error_reply(413, "instructions_too_large", "instructions exceed 64 KiB");
  try {
    a.instructions.put(user, text);
  } catch (const docker::docker_error& e) {
    log::error("instructions not written", {{"user", user}, {"error", e.what()}});
    return error_reply(503, "engine_unavailable", "the instructions could not be written to the user's volume; retry later");
  }
  return json_reply(200, {{"user", user}, {"bytes", text.size()}});
}

reply api_metrics(app& a, const route_match&, const request_view& req) {
  if (req.users) return error_reply(403, "forbidden", "/metrics covers every user; a key limited to some users may not read it");
  auto q = a.manager.stats();
  runs::gauges g;
  g.queue_depth = q.queued;
  g.running_workers = a.exec.active_count();
  g.sse_subscribers = a.bus.subscriber_count();
  g.spares = a.exec.spare_count();
  g.docker_api_errors = docker::docker_api_errors();
  g.docker_up = a.health.docker_ok;
  g.uptime_s = static_cast<double>(now_ms() - a.started_ms) / 1000.0;
  for (const auto& [state, n] : a.db.count_deliveries_by_state()) g.deliveries[state] = static_cast<std::uint64_t>(n);
  for (const auto& [user, s] : a.spend.today(now_ms())) g.spend_today[user] = {s.tokens, static_cast<double>(s.cost_micros) / 1e6};
  return {200, "text/plain; version=0.0.4; charset=utf-8", runs::render_prometheus(runs::global_metrics(), g), {}, std::nullopt};
}

namespace {

json health_json(app& a) {
  std::lock_guard lock(a.health.m);
  json j = {{"status", "ok"},
            {"instance", a.instance},
            {"node", a.manager.node()},
            {"uptime_s", (now_ms() - a.started_ms) / 1000},
            {"docker", {{"ok", a.health.docker_ok.load()}, {"version", a.health.docker_version}}},
            {"store", {{"ok", a.health.store_ok.load()}, {"kind", a.db.shared() ? "postgresql" : "sqlite"}}},
            {"disk_free_bytes", a.health.disk_free_bytes.load()}};
  if (!a.health.docker_error.empty()) j["docker"]["error"] = a.health.docker_error;
  return j;
}
}  // namespace

json time_or_null(const std::optional<std::int64_t>& ms) { return ms ? json(format_time_ms(*ms)) : json(nullptr); }

json delivery_json(const store::delivery_record& d) {
  json j = {{"id", d.id}, {"run", d.run}, {"kind", d.kind}, {"state", d.state}, {"attempts", d.attempts},
            {"last_error", d.last_error}, {"created_at", format_time_ms(d.created_at)},
            {"delivered_at", time_or_null(d.delivered_at)}};
  if (d.state == "pending") j["next_attempt_at"] = format_time_ms(d.next_at);
  auto target = parse_json(d.target);
  if (d.kind == "callback" && target.is_object()) j["url"] = target.value("url", "");
  return j;
}

json run_json(const store::run_record& r, bool full) {
  json j = {{"id", r.id},
            {"user", r.user},
            {"engine", r.engine},
            {"status", r.status},
            {"exit_code", r.exit_code ? json(*r.exit_code) : json(nullptr)},
            {"reason", r.reason},
            {"created_at", format_time_ms(r.created_at)},
            {"started_at", time_or_null(r.started_at)},
            {"finished_at", time_or_null(r.finished_at)},
            {"events", r.last_seq},
            {"usage", usage_from_json(parse_json(r.usage)).to_json()}};  // berthd's own count, at the gateway
  if (!r.session.empty()) j["session"] = r.session;
  if (!r.model.empty()) j["model"] = r.model;
  if (!r.trigger.empty()) j["trigger"] = r.trigger;
  if (r.scheduled_for) j["scheduled_for"] = format_time_ms(*r.scheduled_for);
  if (!r.worker_node.empty()) j["worker_node"] = r.worker_node;  // the cluster node its worker ran on
  if (full) {
    j["message"] = r.message;
    j["options"] = parse_json(r.options);
    j["output_truncated"] = r.truncated;
    j["container_id"] = r.container_id;
    j["node"] = r.owner.empty() ? json(nullptr) : json(r.owner);  // the berthd process that follows (or followed) it
  } else {
    j["message_preview"] = preview(r.message);
  }
  return j;
}

reply list_runs(app& a, const route_match& m, const user_scope& users) {
  store::run_filter f;
  auto q = [&](const char* k) { auto it = m.query.find(k); return it == m.query.end() ? std::string() : it->second; };
  f.user = q("user");
  if (!f.user.empty() && !runs::valid_user(f.user))
    return error_reply(400, "invalid_query", "user must match [A-Za-z0-9_.-]{1,64}");
  if (!f.user.empty() && !scope_allows(users, f.user)) return forbidden_user(f.user);
  if (users) f.user_patterns = *users;
  f.status = q("status");
  if (!f.status.empty() && !is_valid_status(f.status))
    return error_reply(400, "invalid_query", "status must be one of queued, starting, running, succeeded, failed, timed_out, cancelled, oom, lost");
  f.before = q("before");
  if (!f.before.empty() && !is_valid_run_id(f.before)) return error_reply(400, "invalid_query", "before must be a run id");
  // A named array, not a braced list: gcc 12's -fsanitize=thread build miscompiled the latter (config.cpp).
  const std::pair<const char*, std::int64_t*> bounds[] = {{"since", &f.since_ms}, {"until", &f.until_ms}};
  for (auto [key, bound] : bounds) {
    auto v = q(key);
    if (v.empty()) continue;
    auto t = parse_time_ms(v);
    if (!t || *t <= 0)
      return error_reply(400, "invalid_query", std::string(key) + " must be unix milliseconds or RFC 3339 UTC (2026-11-25T02:57:19Z)");
    *bound = *t;
  }
  f.limit = default_list_limit;
  if (auto l = q("limit"); !l.empty()) {
    auto n = parse_int(l);
    if (!n || *n < 1 || *n > max_list_limit)
      return error_reply(400, "invalid_query", "limit must be an integer in [1, " + std::to_string(max_list_limit) + "]");
    f.limit = static_cast<int>(*n);
  }
  auto rows = a.db.list_runs(f);
  json list = json::array();
  for (const auto& r : rows) list.push_back(run_json(r, false));
  json out = {{"runs", list}};
  if (static_cast<int>(rows.size()) == f.limit) out["next"] = rows.back().id;
  return json_reply(200, out);
}

reply get_run(app& a, const std::string& id, const user_scope& users) {
  auto rec = is_valid_run_id(id) ? a.db.get_run(id) : std::nullopt;
  if (!rec || !scope_allows(users, rec->user)) return error_reply(404, "not_found", "no run " + id);
  auto j = run_json(*rec, true);
  j["deliveries"] = json::array();
  for (const auto& d : a.db.deliveries_of_run(id)) j["deliveries"].push_back(delivery_json(d));
  return json_reply(200, j);
}

reply run_events(app& a, const route_match& m, const request_view& req) {
  auto rec = is_valid_run_id(m.param) ? a.db.get_run(m.param) : std::nullopt;
  if (!rec || !scope_allows(req.users, rec->user)) return error_reply(404, "not_found", "no run " + m.param);
  std::int64_t after = 0;
  std::string_view resume = req.last_event_id;
  auto q = m.query.find("after");
  if (resume.empty() && q != m.query.end()) resume = q->second;
  if (!resume.empty()) {
    auto n = parse_last_event_id(resume);
    if (!n) return error_reply(400, "invalid_last_event_id", "Last-Event-ID / after must be a non-negative integer");
    after = *n;
  }
  reply out;
  // A resume at or past the end of a finished run (how EventSource reconnects after `done`) gets the stream's
  // head and its end, instead of keepalives forever.
  out.sse = sse_plan{rec->id, after, {}, is_terminal_status(rec->status) && after >= rec->last_seq};
  return out;
}

reply cancel_run(app& a, const std::string& id, const user_scope& users) {
  if (!is_valid_run_id(id)) return error_reply(404, "not_found", "no run " + id);
  if (users) {
    auto owner = a.db.get_run(id);
    if (!owner || !scope_allows(users, owner->user)) return error_reply(404, "not_found", "no run " + id);
  }
  switch (a.manager.cancel(id)) {
    case runs::cancel_result::not_found: return error_reply(404, "not_found", "no run " + id);
    case runs::cancel_result::cancelled: break;
    case runs::cancel_result::stopping: return json_reply(202, {{"id", id}, {"status", "cancelling"}});
    case runs::cancel_result::already_finished: break;
  }
  auto rec = a.db.get_run(id);
  return json_reply(200, {{"id", id}, {"status", rec ? rec->status : "cancelled"}});
}

reply json_reply(int status, const json& j) { return {status, "application/json", dump(j), {}, std::nullopt}; }

reply error_reply(int status, std::string_view code, std::string_view message) {
  return {status, "application/json", error_body(code, message), {}, std::nullopt};
}

reply api_health(app& a, const route_match&, const request_view&) { return json_reply(200, health_json(a)); }

reply api_ready(app& a, const route_match&, const request_view&) {
  bool ready = a.health.docker_ok && a.health.store_ok && a.health.disk_free_bytes != 0 && !a.stopping;
  auto j = health_json(a);
  j["status"] = ready ? "ready" : "not_ready";
  return json_reply(ready ? 200 : 503, j);
}

reply api_list_runs(app& a, const route_match& m, const request_view& req) { return list_runs(a, m, req.users); }
reply api_get_run(app& a, const route_match& m, const request_view& req) { return get_run(a, m.param, req.users); }
reply api_run_events(app& a, const route_match& m, const request_view& req) { return run_events(a, m, req); }
reply api_cancel_run(app& a, const route_match& m, const request_view& req) { return cancel_run(a, m.param, req.users); }

}  // namespace berth::http
