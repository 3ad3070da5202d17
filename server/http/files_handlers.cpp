#include "server/http/files_handlers.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/gateway/egress_policy.hpp"
#include "server/runs/run_request.hpp"
#include "server/storage/bundles.hpp"
#include "server/storage/mcp_config.hpp"
#include "server/storage/user_files.hpp"

namespace berth::http {
namespace {
using json = nlohmann::json;

// Whose files a route names: {user} routes carry it as their first segment, global ones do not.
struct scope {
  std::string user;  // empty: global
  std::string name;  // the {name} segment, if the route has one
};

std::variant<scope, reply> scope_of(const app& a, const route_match& m, const request_view& req, bool changes) {
  scope s;
  const bool per_user = m.path.starts_with("/api/v1/users/");
  if (per_user) {
    s.user = m.params.empty() ? "" : m.params[0];
    if (!runs::valid_user(s.user)) return error_reply(400, "invalid_field", "user must match [A-Za-z0-9_.-]{1,64}");
    if (!scope_allows(req.users, s.user)) return forbidden_user(s.user);
    if (m.params.size() > 1) s.name = m.params[1];
  } else {
    if (!m.params.empty()) s.name = m.params[0];
    if (changes) {
      const auto key = presented_key(req.api_key, req.authorization);
      bool admin = false;
      for (const auto& k : a.cfg.admin_keys) admin = same_secret(k, key) || admin;
      if (!admin) return error_reply(403, "forbidden", "the global skills and agents are changed with a key in BERTH_ADMIN_KEYS");
    }
  }
  if (m.params.size() > (per_user ? 1u : 0u) && !storage::valid_bundle_name(s.name))
    return error_reply(400, "invalid_name", "a name must match [a-z0-9][a-z0-9-]{0,63}");
  return s;
}

// Whether the worker image has `command` (a path, or a name on the image's PATH): a never-started helper
// container is asked through the archive API, which stats without copying.
bool worker_has(app& a, const std::string& command) {
  if (command.find("..") != std::string::npos) return false;
  std::vector<std::string> paths;
  if (command.front() == '/') paths.push_back(command);
  else if (command.find('/') == std::string::npos)
    for (const char* dir : {"/usr/local/bin/", "/usr/bin/", "/bin/", "/usr/local/sbin/", "/usr/sbin/"}) paths.push_back(dir + command);
  if (paths.empty()) return false;
  const std::string id = a.docker.create_container("berth-mcp-check-" + new_run_id().substr(18),
      {{"Image", a.cfg.worker_image}, {"Labels", {{"berth.instance", a.instance}, {"berth.helper", "mcp-check"}}},
       {"HostConfig", {{"NetworkMode", "none"}}}});
  bool found = false;
  try {
    for (const auto& p : paths)
      if ((found = a.docker.path_exists(id, p))) break;
  } catch (...) {
    a.docker.remove(id);
    throw;
  }
  a.docker.remove(id);
  return found;
}

reply refused(const storage::refusal& r, const std::string& what) {
  log::warn("upload refused", {{"what", what}, {"why", r.message}});
  return error_reply(r.status, r.code, r.message);
}

json listed_json(const storage::listed& l) {
  return {{"name", l.name}, {"scope", l.scope}, {"sha256", l.sha256}, {"bytes", l.bytes}, {"description", l.description}};
}

// A user's list shows their own and the global ones (a global one hidden by the user's own is marked so).
template <class ListFn>
reply list_of(app& a, const route_match& m, const request_view& req, const char* key, ListFn list) {
  auto s = scope_of(a, m, req, false);
  if (auto* r = std::get_if<reply>(&s)) return *r;
  const auto& sc = std::get<scope>(s);
  json out = json::array();
  std::set<std::string> own;
  if (!sc.user.empty())
    for (const auto& l : list(sc.user)) {
      own.insert(l.name);
      out.push_back(listed_json(l));
    }
  for (const auto& l : list(std::string())) {
    auto j = listed_json(l);
    if (own.count(l.name)) j["overridden"] = true;
    out.push_back(j);
  }
  return json_reply(200, {{key, out}});
}
}  // namespace

reply api_skills(app& a, const route_match& m, const request_view& req) {
  return list_of(a, m, req, "skills", [&](const std::string& u) { return a.files.skills(u); });
}

reply api_agents(app& a, const route_match& m, const request_view& req) {
  return list_of(a, m, req, "agents", [&](const std::string& u) { return a.files.agents(u); });
}

reply api_skill(app& a, const route_match& m, const request_view& req) {
  const bool changes = req.method == "PUT" || req.method == "DELETE";
  auto s = scope_of(a, m, req, changes);
  if (auto* r = std::get_if<reply>(&s)) return *r;
  const auto& sc = std::get<scope>(s);
  const std::string what = "skill " + sc.name + (sc.user.empty() ? " (global)" : " of " + sc.user);
  if (req.method == "DELETE") {
    if (!a.files.remove_skill(sc.user, sc.name)) return error_reply(404, "not_found", "no " + what);
    log::info("skill removed", {{"skill", sc.name}, {"user", sc.user.empty() ? "(global)" : sc.user}});
    return json_reply(200, {{"name", sc.name}, {"deleted", true}});
  }
  if (req.method == "GET" || req.method == "HEAD") {
    auto sk = a.files.get_skill(sc.user, sc.name);
    if (!sk) return error_reply(404, "not_found", "no " + what);
    json files = json::object();
    for (const auto& [path, content] : sk->files) files[path] = content;
    return json_reply(200, {{"name", sc.name}, {"description", sk->description}, {"files", files},
                            {"sha256", storage::sha256_hex(storage::skill_archive(*sk))}});
  }
  const storage::bundle_limits limits = storage::bundle_limits_of(a.cfg);
  std::variant<storage::skill, storage::refusal> parsed;
  if (starts_with(req.content_type, "application/gzip") || starts_with(req.content_type, "application/x-gzip"))
    parsed = storage::skill_from_targz(sc.name, req.body, limits);
  else if (is_json(req.content_type))
    parsed = storage::skill_from_json(sc.name, parse_json(req.body), limits);
  else
    return error_reply(415, "unsupported_media_type", "send a skill as application/json {\"files\": {…}} or application/gzip (.tar.gz)");
  if (auto* r = std::get_if<storage::refusal>(&parsed)) return refused(*r, what);
  const auto& sk = std::get<storage::skill>(parsed);
  if (auto r = a.files.put_skill(sc.user, sk)) return refused(*r, what);
  log::info("skill stored", {{"skill", sc.name}, {"user", sc.user.empty() ? "(global)" : sc.user}, {"files", std::to_string(sk.files.size())}});
  return json_reply(200, {{"name", sc.name}, {"description", sk.description}, {"files", sk.files.size()},
                          {"sha256", storage::sha256_hex(storage::skill_archive(sk))}});
}

reply api_agent(app& a, const route_match& m, const request_view& req) {
  const bool changes = req.method == "PUT" || req.method == "DELETE";
  auto s = scope_of(a, m, req, changes);
  if (auto* r = std::get_if<reply>(&s)) return *r;
  const auto& sc = std::get<scope>(s);
  const std::string what = "agent " + sc.name + (sc.user.empty() ? " (global)" : " of " + sc.user);
  if (req.method == "DELETE") {
    if (!a.files.remove_agent(sc.user, sc.name)) return error_reply(404, "not_found", "no " + what);
    log::info("agent removed", {{"agent", sc.name}, {"user", sc.user.empty() ? "(global)" : sc.user}});
    return json_reply(200, {{"name", sc.name}, {"deleted", true}});
  }
  if (req.method == "GET" || req.method == "HEAD") {
    auto ag = a.files.get_agent(sc.user, sc.name);
    if (!ag) return error_reply(404, "not_found", "no " + what);
    return {200, "text/markdown; charset=utf-8", ag->text, {}, std::nullopt};
  }
  if (!starts_with(req.content_type, "text/markdown") && !starts_with(req.content_type, "text/plain"))
    return error_reply(415, "unsupported_media_type", "send an agent as text/markdown");
  auto parsed = storage::agent_from_markdown(sc.name, req.body, storage::bundle_limits_of(a.cfg));
  if (auto* r = std::get_if<storage::refusal>(&parsed)) return refused(*r, what);
  if (auto r = a.files.put_agent(sc.user, std::get<storage::agent>(parsed))) return refused(*r, what);
  log::info("agent stored", {{"agent", sc.name}, {"user", sc.user.empty() ? "(global)" : sc.user}});
  return json_reply(200, json{{"name", sc.name}, {"description", std::get<storage::agent>(parsed).description},
                               {"sha256", storage::sha256_hex(req.body)}});
}

reply api_mcp(app& a, const route_match& m, const request_view& req) {
  auto s = scope_of(a, m, req, false);
  if (auto* r = std::get_if<reply>(&s)) return *r;
  const auto& user = std::get<scope>(s).user;
  if (req.method == "DELETE") {
    if (!a.files.remove_mcp(user)) return error_reply(404, "not_found", "no MCP settings for " + user);
    return json_reply(200, {{"user", user}, {"deleted", true}});
  }
  if (req.method == "GET" || req.method == "HEAD") {
    auto text = a.files.mcp(user);
    if (!text) return error_reply(404, "not_found", "no MCP settings for " + user);
    return json_reply(200, parse_json(*text));
  }
  if (!is_json(req.content_type)) return error_reply(415, "unsupported_media_type", "send {\"mcpServers\": {…}} as application/json");
  std::string why;
  auto checked = storage::check_mcp_config(
      parse_json(req.body), [&](const std::string& command) { return worker_has(a, command); },
      [&](const std::string& host, int port) {
        return gateway::egress_listed(a.cfg.egress_allow, {host, static_cast<unsigned short>(port)});
      },
      why);
  if (!checked) return error_reply(400, "invalid_mcp", why);
  a.files.put_mcp(user, checked->dump());
  log::info("MCP settings stored", {{"user", user}, {"servers", std::to_string((*checked)["mcpServers"].size())}});
  return json_reply(200, *checked);
}

}  // namespace berth::http
