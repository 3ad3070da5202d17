#include "server/runs/task_builder.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>

#include "common/json_bounded.hpp"
#include "server/runs/run_tokens.hpp"

namespace berth::runs {

std::string session_uuid(std::string_view user, std::string_view session) {
  std::string in = "berth-session\n" + std::string(user) + "\n" + std::string(session);
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), d);
  d[6] = static_cast<unsigned char>((d[6] & 0x0F) | 0x50);  // version 5 layout (name-based)
  d[8] = static_cast<unsigned char>((d[8] & 0x3F) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0], d[1],
                d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
  return out;
}

namespace {
// How much a permission mode lets the agent do without asking; a request may only stay at or below the
// operator's. Unknown names (refused at submission) rank above everything, so they never win.
int permissiveness(std::string_view mode) {
  if (mode == "plan") return 0;
  if (mode == "default" || mode == "dontAsk") return 1;
  if (mode == "acceptEdits") return 2;
  if (mode == "bypassPermissions") return 3;
  return 4;
}

// A requested tool is kept when the operator allows it exactly, or allows its bare name ("Bash" covers "Bash(git *)").
bool operator_allows(const std::vector<std::string>& allowed, const std::string& tool) {
  auto bare = tool.substr(0, tool.find('('));
  return std::find(allowed.begin(), allowed.end(), tool) != allowed.end() ||
         std::find(allowed.begin(), allowed.end(), bare) != allowed.end();
}
}  // namespace

std::string narrowed_permission_mode(const std::string& operator_mode, const nlohmann::json& requested) {
  if (!requested.is_string()) return operator_mode;
  const auto& mode = requested.get_ref<const std::string&>();
  return permissiveness(mode) <= permissiveness(operator_mode) ? mode : operator_mode;
}

std::vector<std::string> narrowed_tools(const std::vector<std::string>& operator_tools, const nlohmann::json& requested) {
  if (!requested.is_array() || requested.empty()) return operator_tools;
  std::vector<std::string> out;
  for (const auto& t : requested)
    if (t.is_string() && (operator_tools.empty() || operator_allows(operator_tools, t.get<std::string>())))
      out.push_back(t.get<std::string>());
  // Nothing of the request is allowed: the operator's list, never an empty one (which would mean every tool).
  return out.empty() ? operator_tools : out;
}

std::string workspace_volume(std::string_view instance, std::string_view user) {
  return "berth-ws-" + std::string(instance) + "-" + std::string(user);
}
std::string instructions_volume(std::string_view instance, std::string_view user) {
  return "berth-cfg-" + std::string(instance) + "-" + std::string(user);
}
std::map<std::string, std::string> workspace_labels(std::string_view instance, std::string_view user) {
  return {{"berth.instance", std::string(instance)}, {"berth.user", std::string(user)}, {"berth.kind", "workspace"}};
}

std::string missing_credentials(const config& c, std::string_view engine) {
  if (engine != "claude") return {};
  if (!c.anthropic_api_key.empty() || !c.claude_oauth_token.empty()) return {};
  return "the claude engine has no credentials: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in berthd's "
         "environment (and ANTHROPIC_BASE_URL for a gateway)";
}

std::vector<std::string> engine_secrets(const config& c) {
  std::vector<std::string> out;
  for (const auto* s : {&c.anthropic_api_key, &c.claude_oauth_token})
    if (!s->empty()) out.push_back(*s);
  return out;
}

docker::container_spec worker_container(const config& c, const std::string& instance, const std::string& user,
                                        bool instructions, const std::string& set_volume) {
  docker::container_spec s;
  s.image = c.worker_image;
  s.labels = {{"berth.instance", instance}, {"berth.user", user}, {"berth.node", c.node_id}};
  s.network = c.worker_network;
  s.memory = c.worker_memory;
  s.cpus = c.worker_cpus;
  s.pids = c.worker_pids;
  s.workspace_volume = workspace_volume(instance, user);
  s.gateway_volume = gateway_volume(c, instance);
  if (instructions) s.instructions_volume = instructions_volume(instance, user);
  s.set_volume = set_volume;
  return s;
}

std::string gateway_socket_name(std::string_view node) {
  return node.empty() ? "gateway.sock" : "gateway-" + std::string(node) + ".sock";
}

std::string gateway_volume(const config& c, std::string_view instance) {
  return c.gateway_volume.empty() ? "berth-gw-" + std::string(instance) : c.gateway_volume;
}

task build_task(const config& c, const store::run_record& r, const std::string& gateway_token, const nlohmann::json& user_tools) {
  task t;
  t.run = r.id;
  t.user = r.user;
  t.message = r.message;
  t.engine = r.engine;
  t.session = r.session;
  t.model = r.model;
  t.options = parse_json(r.options);
  if (!t.options.is_object()) t.options = nlohmann::json::object();
  // The gateway's unix socket in the mounted volume, or (BERTH_GATEWAY_ADVERTISE) its TCP address on a network
  // the worker shares with berthd — "tcp:host:port", as worker/relay.cpp reads it.
  t.relay = {.socket = c.gateway_advertise.empty() ? "/run/berth/" + gateway_socket_name(c.node_id) : "tcp:" + c.gateway_advertise,
             .port = c.gateway_relay_port,
             .token = gateway_token};
  if (r.engine != "claude") return t;

  if (t.model.empty()) t.model = c.claude_model;
  auto& o = t.options;
  // A request narrows the operator's tool policy, never widens it.
  // Operator → user → request, each only narrowing what the one before allows.
  const auto u = user_tools.is_object() ? user_tools : nlohmann::json::object();
  const auto user_mode = narrowed_permission_mode(c.claude_permission_mode, u.value("permission_mode", nlohmann::json()));
  o["permission_mode"] = narrowed_permission_mode(user_mode, o.value("permission_mode", nlohmann::json()));
  auto tools = narrowed_tools(narrowed_tools(c.claude_allowed_tools, u.value("allowed_tools", nlohmann::json())),
                              o.value("allowed_tools", nlohmann::json()));
  if (tools.empty()) o.erase("allowed_tools");
  else o["allowed_tools"] = tools;
  // Denials add up: the user's and the request's.
  std::vector<std::string> denied;
  for (const nlohmann::json* policy : {&u, static_cast<const nlohmann::json*>(&o)})
    if (auto it = policy->find("disallowed_tools"); it != policy->end() && it->is_array())
      for (const auto& tool : *it)
        if (tool.is_string() && std::find(denied.begin(), denied.end(), tool.get<std::string>()) == denied.end())
          denied.push_back(tool.get<std::string>());
  if (denied.empty()) o.erase("disallowed_tools");
  else o["disallowed_tools"] = denied;
  if (!o.contains("max_turns") || o["max_turns"].get<int>() > c.claude_max_turns) o["max_turns"] = c.claude_max_turns;
  o["max_retries"] = c.claude_max_retries;
  if (!r.session.empty()) t.session_id = session_uuid(r.user, r.session);
  // The CLI authenticates with the run's token in the form berthd's credential takes (so an OAuth token's
  // request headers stay those of OAuth); the gateway swaps it for the real one.
  t.env[c.anthropic_api_key.empty() ? "CLAUDE_CODE_OAUTH_TOKEN" : "ANTHROPIC_API_KEY"] = gateway_token;
  const std::string relay = "http://127.0.0.1:" + std::to_string(c.gateway_relay_port);
  t.env["ANTHROPIC_BASE_URL"] = relay;
  for (const char* k : {"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"}) t.env[k] = relay;
  // Without these a loopback base URL would itself be sent through the proxy (measured with CLI 2.1.197).
  for (const char* k : {"NO_PROXY", "no_proxy"}) t.env[k] = "127.0.0.1,localhost";
  // A run GitHub started reads its repository: git's https://github.com/… goes to the gateway's git route
  // (server/gateway/git_route.hpp), which adds GitHub's token; the worker never holds it.
  if (!c.github_token.empty() && !git_repo_of_trigger(r.trigger).empty()) {
    t.env["GIT_CONFIG_COUNT"] = "1";
    t.env["GIT_CONFIG_KEY_0"] = "url." + relay + "/git/github.com/.insteadOf";
    t.env["GIT_CONFIG_VALUE_0"] = "https://github.com/";
    t.env["GIT_TERMINAL_PROMPT"] = "0";
  }
  return t;
}

}  // namespace berth::runs
