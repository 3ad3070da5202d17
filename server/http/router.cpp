#include "server/http/router.hpp"

namespace berth::http {

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto pair = q.substr(0, amp);
    auto eq = pair.find('=');
    if (!pair.empty())
      out[url_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

route_match match_route(std::string_view method, std::string_view target) {
  route_match m;
  auto qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  if (qpos != std::string_view::npos) m.query = parse_query(target.substr(qpos + 1));
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);

  auto pick = [&](route get, route post = route::method_not_allowed, route del = route::method_not_allowed,
                  route put = route::method_not_allowed) {
    if (method == "GET" || method == "HEAD") m.r = get;
    else if (method == "POST") m.r = post;
    else if (method == "DELETE") m.r = del;
    else if (method == "PUT") m.r = put;
    else m.r = route::method_not_allowed;
  };
  constexpr std::string_view users = "/api/v1/users/";
  constexpr std::string_view runs = "/api/v1/runs";
  constexpr std::string_view assets = "/dashboard/assets/";
  constexpr std::string_view dash_runs = "/dashboard/api/runs";
  struct run_routes {
    route get, events, cancel;
  };
  // <id> (GET, DELETE) or <id>/events (GET)
  auto run_subroute = [&](std::string_view rest, run_routes r) {
    auto slash = rest.find('/');
    m.param = std::string(rest.substr(0, slash));
    if (slash == std::string_view::npos) pick(r.get, route::method_not_allowed, r.cancel);
    else if (rest.substr(slash) == "/events") pick(r.events);
    else m.r = route::not_found;
  };
  if (path == "/health") pick(route::health);
  else if (path == "/ready") pick(route::ready);
  else if (path == "/metrics") pick(route::metrics);
  else if (path == runs) pick(route::runs_list, route::runs_create);
  else if (path == "/webhook") pick(route::method_not_allowed, route::runs_create);
  else if (path == "/api/v1/sessions") pick(route::sessions_list);
  else if (path == "/api/v1/deliveries") pick(route::deliveries_list);
  else if (path == "/hooks/slack") pick(route::method_not_allowed, route::hooks_slack);
  else if (path == "/hooks/telegram") pick(route::method_not_allowed, route::hooks_telegram);
  else if (path.substr(0, users.size()) == users && path.size() > users.size() + 13 &&
           path.substr(path.size() - 13) == "/instructions") {
    m.param = url_decode(path.substr(users.size(), path.size() - users.size() - 13));
    pick(route::instructions_get, route::method_not_allowed, route::instructions_delete, route::instructions_put);
  }
  else if (path.substr(0, runs.size() + 1) == "/api/v1/runs/")
    run_subroute(path.substr(runs.size() + 1), {route::run_get, route::run_events, route::run_cancel});
  else if (path == dash_runs) pick(route::dashboard_runs);
  else if (path.substr(0, dash_runs.size() + 1) == "/dashboard/api/runs/")
    run_subroute(path.substr(dash_runs.size() + 1),
                 {route::dashboard_run, route::dashboard_run_events, route::dashboard_run_cancel});
  else if (path == "/dashboard") pick(route::dashboard);
  else if (path == "/dashboard/login") pick(route::dashboard_login_form, route::dashboard_login);
  else if (path == "/dashboard/logout") pick(route::method_not_allowed, route::dashboard_logout);
  else if (path == "/dashboard/api/overview") pick(route::dashboard_overview);
  else if (path == "/dashboard/api/events") pick(route::dashboard_events);
  else if (path.substr(0, assets.size()) == assets) {
    m.param = std::string(path.substr(assets.size()));
    pick(route::dashboard_asset);
  } else m.r = route::not_found;
  return m;
}

}  // namespace berth::http
