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
  if (path == "/health") pick(route::health);
  else if (path == "/ready") pick(route::ready);
  else if (path == "/metrics") pick(route::metrics);
  else if (path == runs) pick(route::runs_list, route::runs_create);
  else if (path == "/webhook") pick(route::method_not_allowed, route::runs_create);
  else if (path == "/api/v1/sessions") pick(route::sessions_list);
  else if (path.substr(0, users.size()) == users && path.size() > users.size() + 13 &&
           path.substr(path.size() - 13) == "/instructions") {
    m.param = url_decode(path.substr(users.size(), path.size() - users.size() - 13));
    pick(route::instructions_get, route::method_not_allowed, route::instructions_delete, route::instructions_put);
  }
  else if (path.substr(0, runs.size() + 1) == "/api/v1/runs/") {
    auto rest = path.substr(runs.size() + 1);
    auto slash = rest.find('/');
    m.param = std::string(rest.substr(0, slash));
    if (slash == std::string_view::npos) pick(route::run_get, route::method_not_allowed, route::run_cancel);
    else if (rest.substr(slash) == "/events") pick(route::run_events);
    else m.r = route::not_found;
  } else if (path == "/dashboard") pick(route::dashboard);
  else if (path == "/dashboard/login") pick(route::dashboard, route::dashboard_login);
  else if (path == "/dashboard/logout") pick(route::method_not_allowed, route::dashboard_logout);
  else if (path == "/dashboard/api/overview") pick(route::dashboard_overview);
  else if (path == "/dashboard/api/events") pick(route::dashboard_events);
  else if (path.substr(0, assets.size()) == assets) {
    m.param = std::string(path.substr(assets.size()));
    pick(route::dashboard_asset);
  } else m.r = route::not_found;
  if (m.r == route::method_not_allowed && method == "GET") m.r = route::method_not_allowed;
  return m;
}

}  // namespace berth::http
