// Method + path → route and its parameter; query strings parsed. Pure.
#pragma once
#include <map>
#include <string>
#include <string_view>

namespace berth::http {

enum class route {
  health, ready, metrics,
  runs_create, runs_list, run_get, run_events, run_cancel,
  sessions_list, deliveries_list, hooks_slack, hooks_telegram, instructions_get, instructions_put, instructions_delete,
  dashboard, dashboard_asset, dashboard_login_form, dashboard_login, dashboard_logout, dashboard_overview,
  dashboard_events, dashboard_runs, dashboard_run, dashboard_run_events, dashboard_run_cancel,
  not_found, method_not_allowed,
};

struct route_match {
  route r = route::not_found;
  std::string param;  // run id, user or asset name
  std::map<std::string, std::string> query;
};

route_match match_route(std::string_view method, std::string_view target);
std::map<std::string, std::string> parse_query(std::string_view q);
std::string url_decode(std::string_view s);

}  // namespace berth::http
