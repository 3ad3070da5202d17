#include "server/runs/task_builder.hpp"
#include "common/json_bounded.hpp"

#include <openssl/sha.h>

#include <cstdio>

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

std::string workspace_volume(std::string_view user) { return "berth-ws-" + std::string(user); }
std::string instructions_volume(std::string_view user) { return "berth-cfg-" + std::string(user); }

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
                                        bool instructions) {
  docker::container_spec s;
  s.image = c.worker_image;
  s.labels = {{"berth.instance", instance}, {"berth.user", user}};
  s.network = c.worker_network;
  s.memory = c.worker_memory;
  s.cpus = c.worker_cpus;
  s.pids = c.worker_pids;
  s.workspace_volume = workspace_volume(user);
  if (instructions) s.instructions_volume = instructions_volume(user);
  return s;
}

task build_task(const config& c, const store::run_record& r) {
  task t;
  t.run = r.id;
  t.user = r.user;
  t.message = r.message;
  t.engine = r.engine;
  t.session = r.session;
  t.model = r.model;
  t.options = parse_json(r.options);
  if (!t.options.is_object()) t.options = nlohmann::json::object();
  if (r.engine != "claude") return t;

  if (t.model.empty()) t.model = c.claude_model;
  auto& o = t.options;
  if (!o.contains("permission_mode")) o["permission_mode"] = c.claude_permission_mode;
  if (!o.contains("allowed_tools") && !c.claude_allowed_tools.empty()) o["allowed_tools"] = c.claude_allowed_tools;
  if (!o.contains("max_turns") || o["max_turns"].get<int>() > c.claude_max_turns) o["max_turns"] = c.claude_max_turns;
  o["max_retries"] = c.claude_max_retries;
  if (!r.session.empty()) t.session_id = session_uuid(r.user, r.session);
  if (!c.anthropic_api_key.empty()) t.env["ANTHROPIC_API_KEY"] = c.anthropic_api_key;
  if (!c.claude_oauth_token.empty()) t.env["CLAUDE_CODE_OAUTH_TOKEN"] = c.claude_oauth_token;
  if (!c.anthropic_base_url.empty()) t.env["ANTHROPIC_BASE_URL"] = c.anthropic_base_url;
  return t;
}

}  // namespace berth::runs
