// /dashboard: the login form, the page (rendered with its session's CSRF token), the embedded assets, and
// the dashboard's own data endpoints, which take the session cookie instead of an API key (EventSource cannot
// send headers). Runs on the blocking pool like the API's handlers.
#pragma once
#include <cstdint>
#include <string>

#include "server/http/api_handlers.hpp"

namespace berth::http {

bool is_dashboard_route(route r);
reply handle_dashboard(app& a, const route_match& m, const request_view& req);
// The overview snapshot as JSON text, rebuilt unless the shared one was built at or after `fresh_after_ms`
// and is younger than a second.
std::string dashboard_overview(app& a, std::int64_t fresh_after_ms);
// True while the session behind a cookie-opened event stream is still valid.
bool dashboard_session_alive(app& a, const std::string& token);

}  // namespace berth::http
