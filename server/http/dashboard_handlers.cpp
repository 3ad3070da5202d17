#include "server/http/dashboard_handlers.hpp"

#include <map>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/http/routes.hpp"
#include "server/http/static_assets.hpp"
#include "server/runs/host_facts.hpp"

namespace berth::http {
namespace {
using json = nlohmann::json;

constexpr std::int64_t overview_max_age_ms = 1000;
constexpr int recent_runs = 25;
constexpr std::size_t queue_shown = 100;
constexpr int failed_replies_shown = 10;
constexpr std::string_view csrf_placeholder = "{{csrf}}";
constexpr std::string_view error_placeholder = "<!--error-->";

// Everything the dashboard serves may only load from berthd itself: no inline script, no CDN, no framing.
void add_page_headers(reply& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                         "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "same-origin");  // no-referrer would make form posts say Origin: null
}

reply redirect(std::string_view to) {
  reply r{303, "text/plain; charset=utf-8", "see " + std::string(to), {}, std::nullopt};
  r.headers.emplace_back("Location", std::string(to));
  return r;
}

// Every occurrence of `placeholder` replaced; `value` is berthd's own text (a token, a fixed message).
std::string with(std::string_view page, std::string_view placeholder, std::string_view value) {
  std::string out(page);
  for (auto pos = out.find(placeholder); pos != std::string::npos; pos = out.find(placeholder, pos + value.size()))
    out.replace(pos, placeholder.size(), value);
  return out;
}

reply html(int status, std::string body) {
  reply r{status, "text/html; charset=utf-8", std::move(body), {}, std::nullopt};
  add_page_headers(r);
  return r;
}

reply login_page(int status, std::string_view error) {
  const auto* page = find_asset("login.html");
  std::string err = error.empty() ? "" : "<p class=\"error\" role=\"alert\">" + std::string(error) + "</p>";
  return html(status, with(page ? page->data : "", error_placeholder, err));
}

bool over_tls(const request_view& req) { return req.forwarded_proto == "https"; }

std::string session_token(const request_view& req) { return cookie_value(req.cookie, session_cookie_name); }

std::optional<dashboard_session> current_session(app& a, const request_view& req) {
  return a.dash.sessions.find(session_token(req), now_ms());
}

bool is_form(std::string_view ct) { return starts_with(ct, "application/x-www-form-urlencoded"); }

// A state-changing request carries the session's CSRF token in X-CSRF-Token or in the form field `csrf`.
bool csrf_ok(const dashboard_session& s, const request_view& req) {
  std::string presented(req.csrf_token);
  if (presented.empty() && is_form(req.content_type)) {
    auto form = parse_query(req.body);
    presented = form["csrf"];
  }
  return !presented.empty() && same_secret(s.csrf, presented);
}

reply login(app& a, const request_view& req) {
  if (!is_form(req.content_type))
    return error_reply(415, "unsupported_media_type", "send the login form as application/x-www-form-urlencoded");
  if (auto refused = too_many_failures(a, req)) {
    auto page = login_page(429, "Too many failed logins from here; wait a minute and try again.");
    page.headers.insert(page.headers.end(), refused->headers.begin(), refused->headers.end());
    return page;
  }
  auto form = parse_query(req.body);
  auto scope = a.keys.match(form["key"]);
  if (!scope) {
    record_failure(a, req, "dashboard login refused: wrong key");
    return login_page(401, "That key is not valid.");
  }
  auto ttl_s = static_cast<std::int64_t>(a.cfg.dashboard_session_s);
  auto [token, s] = a.dash.sessions.create(now_ms(), ttl_s * 1000, *scope);
  log::info("dashboard login", {{"sessions", std::to_string(a.dash.sessions.size())}});
  auto r = redirect("/dashboard");
  r.headers.emplace_back("Set-Cookie", session_cookie(token, ttl_s, over_tls(req)));
  return r;
}

reply logout(app& a, const request_view& req) {
  auto token = session_token(req);
  auto s = a.dash.sessions.find(token, now_ms());
  if (s && !csrf_ok(*s, req)) return error_reply(403, "csrf", "missing or wrong CSRF token");
  if (s) {
    a.dash.sessions.remove(token);
    a.bus.wake_all();  // the session's open streams notice it is gone and end
  }
  auto r = redirect("/dashboard/login");
  r.headers.emplace_back("Set-Cookie", clearing_cookie(over_tls(req)));
  return r;
}

reply asset(const std::string& name) {
  const auto* a = find_asset(name);
  if (!a || name.ends_with(".html")) return error_reply(404, "not_found", "no such asset");
  return {200, std::string(content_type_for(name)), std::string(a->data), {}, std::nullopt};
}

// The overview as a session of `users` sees it (null: everyone): runs, counts and failed replies of those users.
json build_overview(app& a, const user_scope& users) {
  auto now = now_ms();
  json j;
  j["now"] = format_time_ms(now);
  j["instance"] = a.instance;
  j["version"] = BERTH_VERSION;
  j["uptime_s"] = (now - a.started_ms) / 1000;

  auto h = runs::read_host_facts();
  j["host"] = {{"load", h.load}, {"cpus", h.cpus}, {"mem_total_bytes", h.mem_total_bytes},
               {"mem_available_bytes", h.mem_available_bytes}, {"disk_free_bytes", a.health.disk_free_bytes.load()},
               {"berthd_rss_bytes", h.berthd_rss_bytes}};
  json engine = {{"ok", a.health.docker_ok.load()}};
  {
    std::lock_guard lock(a.health.m);
    engine["version"] = a.health.docker_version;
    if (!a.health.docker_error.empty()) engine["error"] = a.health.docker_error;
  }
  std::map<std::string, std::string> container_state;  // run id → Docker's state
  if (a.health.docker_ok) {
    try {
      auto info = a.docker.info();
      engine["containers_running"] = info.value("ContainersRunning", 0);
      engine["containers"] = info.value("Containers", 0);
      for (const auto& c : a.docker.list("berth.run", true))
        if (auto it = c.labels.find("berth.run"); it != c.labels.end()) container_state[it->second] = c.state;
    } catch (const std::exception& e) {
      engine["error"] = e.what();
    }
  }
  j["engine"] = engine;
  j["workers"] = a.exec.active_count();
  j["spares"] = a.exec.spare_count();
  j["subscribers"] = a.bus.subscriber_count();
  j["limits"] = {{"max_concurrent", a.cfg.max_concurrent}, {"max_per_user", a.cfg.max_per_user},
                 {"queue_max", a.cfg.queue_max}, {"run_timeout_s", a.cfg.run_timeout_s}};

  // Every status and delivery state is present, zero when no row has it.
  j["counts"] = json::object();
  for (auto st : active_statuses) j["counts"][std::string(st)] = 0;
  for (auto st : terminal_statuses) j["counts"][std::string(st)] = 0;
  for (const auto& [st, n] : users ? a.db.count_by_status(*users) : a.db.count_by_status()) j["counts"][st] = n;
  j["deliveries"] = json::object();
  for (auto st : store::delivery_states) j["deliveries"][std::string(st)] = 0;
  for (const auto& [st, n] : users ? a.db.count_deliveries_by_state(*users) : a.db.count_deliveries_by_state())
    j["deliveries"][st] = n;
  j["failed_deliveries"] = json::array();
  for (const auto& d : a.db.list_deliveries("failed", failed_replies_shown, users ? *users : std::vector<std::string>{}))
    j["failed_deliveries"].push_back(delivery_json(d));

  // Rows are the API's run summaries, plus what the overview adds (elapsed, container state, queue position).
  j["active"] = json::array();
  for (const auto& r : a.db.runs_in_status({"starting", "running"})) {
    if (!scope_allows(users, r.user)) continue;
    auto row = run_json(r, false);
    auto it = container_state.find(r.id);
    row["elapsed_s"] = (now - r.started_at.value_or(r.created_at)) / 1000;
    row["container"] = it == container_state.end() ? json(nullptr) : json(it->second);
    j["active"].push_back(row);
  }
  auto queued = a.db.runs_in_status({"queued"});
  std::erase_if(queued, [&](const store::run_record& r) { return !scope_allows(users, r.user); });
  j["queue"] = json::array();
  for (std::size_t i = 0; i < queued.size() && i < queue_shown; ++i) {
    auto row = run_json(queued[i], false);
    row["position"] = i + 1;
    row["waited_s"] = (now - queued[i].created_at) / 1000;
    j["queue"].push_back(row);
  }
  j["queue_total"] = queued.size();

  // Spend today (UTC) per user, with each one's budget: what the gateway metered, priced at BERTH_PRICES.
  j["spend_today"] = json::array();
  for (const auto& [user, sp] : a.spend.today(now)) {
    if (!scope_allows(users, user)) continue;
    auto b = a.spend.budget_of(user);
    j["spend_today"].push_back({{"user", user}, {"tokens", sp.tokens}, {"usd", static_cast<double>(sp.cost_micros) / 1e6},
                                {"budget", b ? runs::budget_json(*b) : json(nullptr)},
                                {"exceeded", a.spend.check(user, now).has_value()}});
  }

  store::run_filter f;
  f.limit = recent_runs;
  if (users) f.user_patterns = *users;
  j["recent"] = json::array();
  for (const auto& r : a.db.list_runs(f)) {
    auto row = run_json(r, false);
    if (r.finished_at) row["duration_ms"] = *r.finished_at - r.started_at.value_or(r.created_at);
    j["recent"].push_back(row);
  }
  return j;
}

reply unauthenticated() { return error_reply(401, "unauthorized", "log in at /dashboard/login"); }
}  // namespace

std::string dashboard_overview(app& a, std::int64_t fresh_after_ms, const user_scope& users) {
  // A session limited to some users gets its own view, built for it (not shared, not cached).
  if (users) return build_overview(a, users).dump(-1, ' ', false, json::error_handler_t::replace);
  // The build asks Docker (seconds, with a slow engine) and the store: it runs outside the lock, one at a time.
  // While one runs, others return the last snapshot at once rather than occupy pool threads waiting on the
  // engine; only the very first snapshot is waited for.
  auto& d = a.dash;
  {
    std::unique_lock lock(d.overview_m);
    auto now = now_ms();
    bool fresh = !d.overview.empty() && d.overview_ms >= fresh_after_ms && now - d.overview_ms < overview_max_age_ms;
    if (fresh || (d.overview_building && !d.overview.empty())) return d.overview;
    if (d.overview_building) {
      d.overview_built.wait(lock, [&] { return !d.overview_building; });
      return d.overview;
    }
    d.overview_building = true;
  }
  std::string built;
  try {
    built = build_overview(a, nullptr).dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (...) {
    std::lock_guard lock(d.overview_m);
    d.overview_building = false;
    d.overview_built.notify_all();
    throw;
  }
  std::lock_guard lock(d.overview_m);
  d.overview = std::move(built);
  d.overview_ms = now_ms();
  d.overview_building = false;
  d.overview_built.notify_all();
  return d.overview;
}

std::optional<user_scope> dashboard_session_scope(app& a, const std::string& token) {
  auto s = a.dash.sessions.find(token, now_ms());
  if (!s) return std::nullopt;
  return s->users;
}

namespace {
// Each state-changing dashboard request must come from the dashboard's own pages.
std::optional<reply> refuse_cross_site(const request_view& req) {
  if (same_site_request(req.origin, req.host, req.sec_fetch_site)) return std::nullopt;
  log::warn("dashboard: cross-site request refused", {{"path", std::string(req.target.substr(0, req.target.find('?')))}});
  return error_reply(403, "cross_site", "cross-site requests to the dashboard are refused");
}
}  // namespace

std::optional<user_scope> dashboard_cookie_scope(app& a, const request_view& req) {
  auto s = current_session(a, req);
  if (!s) return std::nullopt;
  return s->users;
}

reply dashboard_denied(const route_match& m) {
  if (m.path == "/dashboard") return redirect("/dashboard/login");
  return unauthenticated();
}

reply dashboard_page(app& a, const route_match&, const request_view& req) {
  auto s = current_session(a, req);
  if (!s) return redirect("/dashboard/login");
  const auto* page = find_asset("index.html");
  return html(200, with(page ? page->data : "", csrf_placeholder, s->csrf));
}

reply dashboard_asset(app&, const route_match& m, const request_view&) { return asset(m.param); }

reply dashboard_login_form(app& a, const route_match&, const request_view& req) {
  return current_session(a, req) ? redirect("/dashboard") : login_page(200, "");
}

reply dashboard_login(app& a, const route_match&, const request_view& req) {
  if (auto refused = refuse_cross_site(req)) return *refused;
  return login(a, req);
}

reply dashboard_logout(app& a, const route_match&, const request_view& req) {
  if (auto refused = refuse_cross_site(req)) return *refused;
  return logout(a, req);
}

reply dashboard_overview_json(app& a, const route_match&, const request_view& req) {
  return {200, "application/json", dashboard_overview(a, 0, req.users), {}, std::nullopt};
}

reply dashboard_events(app&, const route_match&, const request_view& req) {
  reply r;
  r.sse = sse_plan{"", 0, session_token(req)};
  return r;
}

reply dashboard_runs(app& a, const route_match& m, const request_view& req) { return list_runs(a, m, req.users); }
reply dashboard_run(app& a, const route_match& m, const request_view& req) { return get_run(a, m.param, req.users); }

reply dashboard_run_events(app& a, const route_match& m, const request_view& req) {
  auto r = run_events(a, m, req);
  if (r.sse) r.sse->dashboard_session = session_token(req);  // the stream ends with the session (logout)
  return r;
}

reply dashboard_run_cancel(app& a, const route_match& m, const request_view& req) {
  if (auto refused = refuse_cross_site(req)) return *refused;
  auto s = current_session(a, req);
  if (!s) return unauthenticated();
  if (!csrf_ok(*s, req)) return error_reply(403, "csrf", "missing or wrong CSRF token");
  log::info("run cancelled from the dashboard", {{"run", m.param}});
  return cancel_run(a, m.param, req.users);
}

}  // namespace berth::http
