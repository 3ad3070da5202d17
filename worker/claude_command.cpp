#include "worker/claude_command.hpp"

#include <algorithm>
#include <cstdio>

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
                                    const std::vector<std::string>& inherited) {
  claude_command c;
  c.argv = {p.binary, "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages"};
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

}  // namespace berth::worker
