// /dashboard: the login form, the page (rendered with its session's CSRF token), the embedded assets, and
// the dashboard's own data endpoints, which take the session cookie instead of an API key (EventSource cannot
// send headers). Runs on the blocking pool like the API's handlers.
#pragma once
#include <cstdint>
#include <string>

#include "server/http/api_handlers.hpp"

namespace berth::http {

// The check behind `auth_kind::cookie` rows, and what such a row answers without a valid session.
// The session's scope when the cookie names a live session (null inside: every user), else nullopt.
std::optional<user_scope> dashboard_cookie_scope(app& a, const request_view& req);
reply dashboard_denied(const route_match& m);

// Route handlers (rows of routes.cpp).
reply dashboard_page(app& a, const route_match& m, const request_view& req);
reply dashboard_asset(app& a, const route_match& m, const request_view& req);
reply dashboard_login_form(app& a, const route_match& m, const request_view& req);
reply dashboard_login(app& a, const route_match& m, const request_view& req);
reply dashboard_logout(app& a, const route_match& m, const request_view& req);
reply dashboard_overview_json(app& a, const route_match& m, const request_view& req);
reply dashboard_events(app& a, const route_match& m, const request_view& req);
reply dashboard_runs(app& a, const route_match& m, const request_view& req);
reply dashboard_run(app& a, const route_match& m, const request_view& req);
reply dashboard_run_events(app& a, const route_match& m, const request_view& req);
reply dashboard_run_cancel(app& a, const route_match& m, const request_view& req);
// The overview snapshot as JSON text, rebuilt unless the shared one was built at or after `fresh_after_ms`
// and is younger than a second.
std::string dashboard_overview(app& a, std::int64_t fresh_after_ms, const user_scope& users);
// A live session's scope (null inside: every user); nullopt once it has ended.
std::optional<user_scope> dashboard_session_scope(app& a, const std::string& token);

}  // namespace berth::http
