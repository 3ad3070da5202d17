// How berth-worker invokes the Claude Code CLI: argv and environment, from the task. Pure. The message is
// never here: it goes to the CLI's stdin, so no process list shows it; credentials only reach the CLI's
// environment (from the task's `env`, read from stdin).
#pragma once
#include <string>
#include <vector>

#include "common/task.hpp"

namespace berth::worker {

struct claude_paths {
  std::string binary = "/usr/local/bin/claude";
  std::string workspace = "/workspace";
  // The CLI's state (sessions, transcripts) lives in the user's volume so `--resume` works in the next
  // container. Not /workspace/.claude: that is the project's own settings directory.
  std::string config_dir = "/workspace/.berth/claude";
  std::string instructions = "/etc/berth/instructions/CLAUDE.md";  // read-only volume, when the user has any
  // The run's skills, agents and MCP config (berthd's set volume, read-only), when it has any.
  std::string set = "/etc/berth/set";
  bool mcp = false;  // set/mcp.json exists: the CLI gets it with --strict-mcp-config
};

// Where the CLI keeps the transcript of `session_id` for sessions started in `cwd`.
std::string session_transcript(const claude_paths& p, const std::string& session_id);

struct claude_command {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE
};

// `inherited`: the worker's own environment; credentials or CLI settings found there are dropped so only
// what berthd sent applies. `resume`: the session's transcript exists, so continue it. `stream_input`: the
// message comes as a stream-json user line (a warm CLI started before its message).
claude_command build_claude_command(const task& t, const claude_paths& p, bool resume,
                                    const std::vector<std::string>& inherited, bool stream_input = false);

// Whether a CLI started with `prepared` serves a task that wants `wanted`: "" when argv and environment are the
// same but for the API key variable (the spare's key; the relay names the run's token beside it), else what
// differs ("--model", "--resume", "environment GIT_CONFIG_COUNT", …). Pure.
std::string warm_mismatch(const claude_command& prepared, const claude_command& wanted);

// The stream-json line that hands a waiting CLI its message.
std::string stream_json_user_line(const std::string& text);

}  // namespace berth::worker
