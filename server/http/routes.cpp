#include "server/http/routes.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/runs/metrics.hpp"
#include "server/http/budget_handlers.hpp"
#include "server/http/dashboard_handlers.hpp"
#include "server/http/files_handlers.hpp"
#include "server/http/tools_handlers.hpp"
#include "server/http/hooks_handlers.hpp"
#include "server/http/schedules_handlers.hpp"
#include "server/http/http_error.hpp"
#include "server/runs/run_request.hpp"
#include "server/storage/file_store.hpp"

namespace berth::http {
namespace {

using enum auth_kind;
using enum run_on;

reply slack(app& a, const route_match&, const request_view& req) { return slack_hook(a, req); }
reply telegram(app& a, const route_match&, const request_view& req) { return telegram_hook(a, req); }
reply github(app& a, const route_match&, const request_view& req) { return github_hook(a, req); }

// clang-format off
constexpr std::array table{
  // method    path                                  handler                  auth       where  listeners
  route{"GET",    "/health",                         api_health,              none,      io},
  route{"GET",    "/ready",                          api_ready,               none,      io},
  route{"GET",    "/metrics",                        api_metrics,             key,       pool},
  route{"GET",    "/metrics",                        api_metrics,             none,      pool,  metrics_listener},
  route{"POST",   "/api/v1/runs",                    api_create_run,          key,       pool},
  route{"POST",   "/webhook",                        api_create_run,          key,       pool},
  route{"GET",    "/api/v1/runs",                    api_list_runs,           key,       pool},
  route{"GET",    "/api/v1/runs/{id}",               api_get_run,             key,       pool},
  route{"DELETE", "/api/v1/runs/{id}",               api_cancel_run,          key,       pool},
  route{"GET",    "/api/v1/runs/{id}/events",        api_run_events,          key,       pool},
  route{"GET",    "/api/v1/sessions",                api_list_sessions,       key,       pool},
  route{"GET",    "/api/v1/deliveries",              api_list_deliveries,     key,       pool},
  route{"GET",    "/api/v1/users/{user}/instructions", api_instructions,      key,       pool},
  route{"PUT",    "/api/v1/users/{user}/instructions", api_instructions,      key,       pool},
  route{"DELETE", "/api/v1/users/{user}/instructions", api_instructions,      key,       pool},
  route{"POST",   "/api/v1/schedules",               api_create_schedule,     key,       pool},
  route{"GET",    "/api/v1/schedules",               api_list_schedules,      key,       pool},
  route{"GET",    "/api/v1/schedules/{id}",          api_schedule,            key,       pool},
  route{"DELETE", "/api/v1/schedules/{id}",          api_schedule,            key,       pool},
  route{"POST",   "/api/v1/schedules/{id}/pause",    api_pause_schedule,      key,       pool},
  route{"POST",   "/api/v1/schedules/{id}/resume",   api_resume_schedule,     key,       pool},
  route{"GET",    "/api/v1/users/{user}/heartbeat",  api_heartbeat,           key,       pool},
  route{"PUT",    "/api/v1/users/{user}/heartbeat",  api_heartbeat,           key,       pool},
  route{"DELETE", "/api/v1/users/{user}/heartbeat",  api_heartbeat,           key,       pool},
  route{"GET",    "/api/v1/users/{user}/budget",     api_budget,              key,       pool},
  route{"PUT",    "/api/v1/users/{user}/budget",     api_budget,              key,       pool},
  route{"DELETE", "/api/v1/users/{user}/budget",     api_budget,              key,       pool},
  route{"GET",    "/api/v1/users/{user}/tools",      api_tools,               key,       pool},
  route{"PUT",    "/api/v1/users/{user}/tools",      api_tools,               key,       pool},
  route{"DELETE", "/api/v1/users/{user}/tools",      api_tools,               key,       pool},
  route{"GET",    "/api/v1/users/{user}/skills",     api_skills,              key,       pool},
  route{"GET",    "/api/v1/users/{user}/skills/{name}", api_skill,            key,       pool},
  route{"PUT",    "/api/v1/users/{user}/skills/{name}", api_skill,            key,       pool},
  route{"DELETE", "/api/v1/users/{user}/skills/{name}", api_skill,            key,       pool},
  route{"GET",    "/api/v1/skills",                  api_skills,              key,       pool},
  route{"GET",    "/api/v1/skills/{name}",           api_skill,               key,       pool},
  route{"PUT",    "/api/v1/skills/{name}",           api_skill,               key,       pool},
  route{"DELETE", "/api/v1/skills/{name}",           api_skill,               key,       pool},
  route{"GET",    "/api/v1/users/{user}/agents",     api_agents,              key,       pool},
  route{"GET",    "/api/v1/users/{user}/agents/{name}", api_agent,            key,       pool},
  route{"PUT",    "/api/v1/users/{user}/agents/{name}", api_agent,            key,       pool},
  route{"DELETE", "/api/v1/users/{user}/agents/{name}", api_agent,            key,       pool},
  route{"GET",    "/api/v1/agents",                  api_agents,              key,       pool},
  route{"GET",    "/api/v1/agents/{name}",           api_agent,               key,       pool},
  route{"PUT",    "/api/v1/agents/{name}",           api_agent,               key,       pool},
  route{"DELETE", "/api/v1/agents/{name}",           api_agent,               key,       pool},
  route{"GET",    "/api/v1/users/{user}/mcp",        api_mcp,                 key,       pool},
  route{"PUT",    "/api/v1/users/{user}/mcp",        api_mcp,                 key,       pool},
  route{"DELETE", "/api/v1/users/{user}/mcp",        api_mcp,                 key,       pool},
  route{"POST",   "/hooks/slack",                    slack,                   signature, pool},
  route{"POST",   "/hooks/github",                   github,                  signature, pool},
  route{"POST",   "/hooks/telegram",                 telegram,                signature, pool},
  route{"GET",    "/dashboard",                      dashboard_page,          cookie,    pool},
  route{"GET",    "/dashboard/login",                dashboard_login_form,    none,      pool},
  route{"POST",   "/dashboard/login",                dashboard_login,         none,      pool},
  route{"POST",   "/dashboard/logout",               dashboard_logout,        none,      pool},
  route{"GET",    "/dashboard/assets/{name}",        dashboard_asset,         none,      io},
  route{"GET",    "/dashboard/api/overview",         dashboard_overview_json, cookie,    pool},
  route{"GET",    "/dashboard/api/events",           dashboard_events,        cookie,    pool},
  route{"GET",    "/dashboard/api/runs",             dashboard_runs,          cookie,    pool},
  route{"GET",    "/dashboard/api/runs/{id}",        dashboard_run,           cookie,    pool},
  route{"DELETE", "/dashboard/api/runs/{id}",        dashboard_run_cancel,    cookie,    pool},
  route{"GET",    "/dashboard/api/runs/{id}/events", dashboard_run_events,    cookie,    pool},
  route{"GET",    "/dashboard/api/schedules",        api_list_schedules,      cookie,    pool},
};
// clang-format on

reply unauthorized() {
  auto r = error_reply(401, "unauthorized", "missing or invalid API key (send X-API-Key or Authorization: Bearer)");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace

std::span<const route> routes() { return table; }

int http_status_of(runs::refusal r) {
  switch (r) {
    case runs::refusal::invalid: return 400;
    case runs::refusal::too_large: return 413;
    case runs::refusal::busy: return 429;
    case runs::refusal::over_budget: return 429;
    case runs::refusal::unavailable: return 503;
  }
  return 500;
}

std::optional<reply> too_many_failures(app& a, const request_view& req) {
  int wait = a.auth_failures.retry_after_s(std::string(req.client), now_ms());
  if (wait == 0) return std::nullopt;
  runs::global_metrics().auth_refused.fetch_add(1, std::memory_order_relaxed);
  auto r = error_reply(429, "too_many_failures", "too many failed keys or logins from this client; retry in " +
                                                     std::to_string(wait) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(wait));
  return r;
}

void record_failure(app& a, const request_view& req, std::string_view what) {
  a.auth_failures.record_failure(std::string(req.client), now_ms());
  runs::global_metrics().auth_failures.fetch_add(1, std::memory_order_relaxed);
  log::warn(what, {{"client", std::string(req.client)}});
}

std::optional<reply> authenticate(app& a, const route_match& m, request_view& req) {
  // The metrics listener answers 404 to everything but /metrics; nothing on it is behind a key.
  auto kind = m.row ? m.row->auth : (is_api_path(m.path) && m.listener == main_listener ? key : none);
  switch (kind) {
    case key:
      // A client past its failure limit is refused before its key is compared: guessing stays capped.
      if (auto refused = too_many_failures(a, req)) return refused;
      if (auto scope = a.keys.match(presented_key(req.api_key, req.authorization))) {
        req.users = *scope;
        return std::nullopt;
      }
      record_failure(a, req, "request refused: missing or wrong API key");
      return unauthorized();
    case cookie:
      if (auto scope = dashboard_cookie_scope(a, req)) {
        req.users = *scope;
        return std::nullopt;
      }
      return dashboard_denied(m);
    case signature:
    case none: return std::nullopt;
  }
  return unauthorized();
}

reply dispatch(app& a, const route_match& m, const request_view& req) {
  if (m.result == match_result::method_not_allowed) return error_reply(405, "method_not_allowed", "method not allowed on this path");
  if (!m.row) return error_reply(404, "not_found", "no such endpoint");
  try {
    return m.row->handler(a, m, req);
  } catch (const runs::request_error& e) {
    reply r = error_reply(http_status_of(e.kind), e.code, e.what());
    if (e.kind == runs::refusal::busy) r.headers.emplace_back("Retry-After", "5");
    if (e.kind == runs::refusal::over_budget) {
      r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, (e.resets_at_ms - now_ms() + 999) / 1000)));
      auto body = nlohmann::json::parse(r.body, nullptr, false);
      if (body.is_object()) {
        body["error"]["resets_at"] = format_time_ms(e.resets_at_ms);
        r.body = body.dump();
      }
    }
    return r;
  } catch (const http_error& e) {
    return error_reply(e.status, e.code, e.what());
  } catch (const storage::storage_error& e) {  // BERTH_STORAGE (the bucket, the directory) failed: says which way
    log::warn("request failed: storage", {{"path", m.path}, {"error", e.what()}});
    return error_reply(503, "storage_unavailable", std::string("the file storage failed: ") + e.what());
  } catch (const std::exception& e) {
    if (store::is_store_error(e)) {
      log::warn("request failed: the database does not answer", {{"path", m.path}, {"error", e.what()}});
      return error_reply(503, "store_unavailable", "the database does not answer; retry shortly");
    }
    log::error("request failed", {{"path", m.path}, {"error", e.what()}});
    return error_reply(500, "internal", "internal error; see berthd's log");
  }
}

}  // namespace berth::http
