// Claude Code's `--output-format stream-json --verbose --include-partial-messages` → berth worker events.
// Pure: one CLI stdout line in, the events it means out. Shapes are those of CLI 2.1.197, recorded in
// test/data/claude/ (see its README and worker/Dockerfile.claude-notes.md).
#pragma once
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::worker {

struct translation {
  std::vector<nlohmann::json> events;    // worker-protocol events, in order
  std::vector<std::string> diagnostics;  // lines for stderr (the operator's `log` events)
  bool stop_now = false;                 // the CLI must be killed: retrying cannot help (auth)
};

class stream_translator {
 public:
  explicit stream_translator(std::size_t max_tool_output = 16 * 1024) : max_tool_output_(max_tool_output) {}

  translation feed(std::string_view line);

  bool saw_result() const { return saw_result_; }
  bool failed() const { return failed_; }  // an error event was produced (auth, api, engine)
  const std::string& session_id() const { return session_id_; }

 private:
  void on_system(const nlohmann::json& j, translation& out);
  void on_stream_event(const nlohmann::json& ev, translation& out);
  void on_assistant(const nlohmann::json& j, translation& out);
  void on_user(const nlohmann::json& j, translation& out);
  void on_result(const nlohmann::json& j, translation& out);
  void fail(translation& out, const std::string& kind, const std::string& message);

  std::size_t max_tool_output_;
  std::string current_message_;          // id of the message being streamed
  std::set<std::string> streamed_;       // messages whose text came as text_delta (assistant lines repeat it)
  std::set<std::string> tools_seen_;     // tool_use ids already emitted
  std::string synthetic_error_;          // "error" of the CLI's synthetic assistant line before a failed result
  std::string session_id_;
  bool saw_result_ = false;
  bool failed_ = false;
};

// The text of a tool_result's `content` (a string, or an array of blocks), cut to `max` bytes on a UTF-8
// boundary with a note of how much was left out.
std::string tool_output_text(const nlohmann::json& content, std::size_t max);

}  // namespace berth::worker
