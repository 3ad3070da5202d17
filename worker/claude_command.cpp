#include "worker/claude_command.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace berth::worker {
namespace {
bool dropped(const std::string& kv) {
  for (const char* p : {"ANTHROPIC_", "CLAUDE_", "DISABLE_"})
    if (kv.rfind(p, 0) == 0) return true;
  return false;
}
}  // namespace

std::string session_transcript(const claude_paths& p, const std::string& session_id) {
  std::string project = p.workspace;
  std::replace(project.begin(), project.end(), '/', '-');
  return p.config_dir + "/projects/" + project + "/" + session_id + ".jsonl";
}

claude_command build_claude_command(const task& t, const claude_paths& p, bool resume,
                                    const std::vector<std::string>& inherited, bool stream_input) {
  claude_command c;
  c.argv = {p.binary, "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages"};
  if (stream_input) c.argv.insert(c.argv.end(), {"--input-format", "stream-json"});
  const auto& o = t.options;
  if (!t.model.empty()) c.argv.insert(c.argv.end(), {"--model", t.model});
  if (o.contains("permission_mode") && o["permission_mode"].is_string())
    c.argv.insert(c.argv.end(), {"--permission-mode", o["permission_mode"].get<std::string>()});
  if (o.contains("allowed_tools") && o["allowed_tools"].is_array() && !o["allowed_tools"].empty()) {
    std::string tools;
    for (const auto& tool : o["allowed_tools"])
      if (tool.is_string()) tools += (tools.empty() ? "" : ",") + tool.get<std::string>();
    c.argv.insert(c.argv.end(), {"--allowedTools", tools});
  }
  if (o.contains("disallowed_tools") && o["disallowed_tools"].is_array() && !o["disallowed_tools"].empty()) {
    std::string tools;
    for (const auto& tool : o["disallowed_tools"])
      if (tool.is_string()) tools += (tools.empty() ? "" : ",") + tool.get<std::string>();
    c.argv.insert(c.argv.end(), {"--disallowedTools", tools});
  }
  if (o.contains("max_turns") && o["max_turns"].is_number_integer())
    c.argv.insert(c.argv.end(), {"--max-turns", std::to_string(o["max_turns"].get<int>())});
  if (o.contains("max_budget_usd") && o["max_budget_usd"].is_number() && o["max_budget_usd"].get<double>() > 0) {
    char usd[32];
    std::snprintf(usd, sizeof usd, "%.6f", o["max_budget_usd"].get<double>());
    c.argv.insert(c.argv.end(), {"--max-budget-usd", usd});
  }
  if (!t.session_id.empty()) c.argv.insert(c.argv.end(), {resume ? "--resume" : "--session-id", t.session_id});
  if (p.mcp) c.argv.insert(c.argv.end(), {"--mcp-config", p.set + "/mcp.json", "--strict-mcp-config"});

  for (const auto& kv : inherited)
    if (!dropped(kv)) c.env.push_back(kv);
  for (const auto& [k, v] : t.env) c.env.push_back(k + "=" + v);
  c.env.insert(c.env.end(), {"DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1", "DISABLE_AUTOUPDATER=1",
                             "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CONFIG_DIR=" + p.config_dir});
  // Transient API errors (429, 5xx, 529) get a bounded number of retries; auth errors get none (the
  // translator stops the CLI at the first 401/403).
  if (o.contains("max_retries") && o["max_retries"].is_number_integer())
    c.env.push_back("CLAUDE_CODE_MAX_RETRIES=" + std::to_string(o["max_retries"].get<int>()));
  return c;
}

namespace {
bool key_variable(const std::string& kv) { return kv.starts_with("ANTHROPIC_API_KEY=") || kv.starts_with("CLAUDE_CODE_OAUTH_TOKEN="); }
std::string name_of(const std::string& kv) { return kv.substr(0, kv.find('=')); }
}  // namespace

std::string warm_mismatch(const claude_command& prepared, const claude_command& wanted) {
  const auto& a = prepared.argv;
  const auto& b = wanted.argv;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size() && i < b.size() && a[i] == b[i]) continue;
    // Name the flag that differs: the argument itself, or the flag before a differing value.
    const auto& at = i < b.size() ? b : a;
    const std::string& here = at[i];
    return here.starts_with("--") || i == 0 ? here : at[i - 1];
  }
  auto env_of = [](const claude_command& c) {
    std::vector<std::string> out;
    for (const auto& kv : c.env)
      if (!key_variable(kv)) out.push_back(kv);
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto ea = env_of(prepared), eb = env_of(wanted);
  if (ea == eb) {
    // The same kind of key (API key or OAuth token) on both sides.
    auto kind = [](const claude_command& c) {
      for (const auto& kv : c.env)
        if (key_variable(kv)) return name_of(kv);
      return std::string();
    };
    return kind(prepared) == kind(wanted) ? "" : "environment " + kind(wanted);
  }
  std::vector<std::string> diff;
  std::set_symmetric_difference(ea.begin(), ea.end(), eb.begin(), eb.end(), std::back_inserter(diff));
  return "environment " + name_of(diff.front());
}

std::string stream_json_user_line(const std::string& text) {
  return nlohmann::json{{"type", "user"}, {"message", {{"role", "user"}, {"content", text}}}}.dump(
             -1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n";
}

}  // namespace berth::worker
