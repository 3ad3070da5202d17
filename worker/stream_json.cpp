#include "worker/stream_json.hpp"

#include "common/json_bounded.hpp"

namespace berth::worker {
namespace {
using json = nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::size_t utf8_cut(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // never split a code point
  return n;
}

std::string bounded(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  auto keep = utf8_cut(s, max);
  auto dropped = s.size() - keep;
  s.resize(keep);
  return s + "\n[berth: output truncated, " + std::to_string(dropped) + " more bytes]";
}

bool is_auth_status(const json& status) {
  return status.is_number_integer() && (status.get<int>() == 401 || status.get<int>() == 403);
}
}  // namespace

std::string tool_output_text(const json& content, std::size_t max) {
  std::string text;
  if (content.is_string()) {
    text = content.get<std::string>();
  } else if (content.is_array()) {
    for (const auto& b : content) {
      if (!text.empty()) text += "\n";
      if (b.is_object() && str(b, "type") == "text") text += str(b, "text");
      else if (b.is_object()) text += "[" + str(b, "type") + "]";
    }
  } else if (!content.is_null()) {
    text = content.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return bounded(std::move(text), max);
}

translation stream_translator::feed(std::string_view line) {
  translation out;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return out;
  json j = parse_json(line);
  if (j.is_discarded() || !j.is_object()) {
    out.diagnostics.push_back("claude printed a line that is not a JSON object: " +
                              std::string(line.substr(0, utf8_cut(line, 300))));
    return out;
  }
  const std::string type = str(j, "type");
  try {
    if (type == "system") on_system(j, out);
    else if (type == "stream_event" && j.contains("event") && j["event"].is_object()) on_stream_event(j["event"], out);
    else if (type == "assistant") on_assistant(j, out);
    else if (type == "user") on_user(j, out);
    else if (type == "result") on_result(j, out);
    // anything else (new line types of later CLI versions) carries nothing a caller needs
  } catch (const json::exception& e) {
    // A field of an unexpected type ("is_error": "success", found by fuzz_stream_json): the line is reported,
    // never fatal to the worker.
    translation bad;
    bad.diagnostics.push_back("claude printed a " + type + " line berth cannot read (" + e.what() + ")");
    return bad;
  }
  return out;
}

void stream_translator::fail(translation& out, const std::string& kind, const std::string& message) {
  if (failed_) return;  // one error event per run: the first cause is the one that matters
  failed_ = true;
  out.events.push_back({{"type", "error"}, {"kind", kind}, {"message", message}});
}

void stream_translator::on_system(const json& j, translation& out) {
  const std::string sub = str(j, "subtype");
  if (sub == "init") {
    session_id_ = str(j, "session_id");
    out.diagnostics.push_back("claude " + str(j, "claude_code_version") + " started: model " + str(j, "model") +
                              ", permission mode " + str(j, "permissionMode"));
    return;
  }
  if (sub != "api_retry") return;
  const json status = j.value("error_status", json());
  const std::string error = str(j, "error");
  const std::string what = (status.is_number() ? "HTTP " + status.dump() : std::string("no status")) +
                           (error.empty() ? "" : " " + error);
  if (is_auth_status(status) || error == "authentication_failed") {
    // Left alone the CLI retries a 401 ten times over about three minutes; no retry can fix a bad key.
    fail(out, "auth", "the Anthropic API rejected the credentials (" + what + "); stopped instead of retrying");
    out.stop_now = true;
    return;
  }
  out.diagnostics.push_back("claude: API error (" + what + "), retry " + j.value("attempt", json()).dump() + " of " +
                            j.value("max_retries", json()).dump() + " in " +
                            std::to_string(static_cast<long>(j.value("retry_delay_ms", 0.0))) + " ms");
}

void stream_translator::on_stream_event(const json& ev, translation& out) {
  const std::string type = str(ev, "type");
  if (type == "message_start" && ev.contains("message") && ev["message"].is_object()) {
    current_message_ = str(ev["message"], "id");
    return;
  }
  if (type != "content_block_delta" || !ev.contains("delta") || !ev["delta"].is_object()) return;
  const auto& d = ev["delta"];
  if (str(d, "type") != "text_delta") return;  // tool input arrives whole in the assistant line
  std::string text = str(d, "text");
  if (text.empty()) return;
  streamed_.insert(current_message_);
  out.events.push_back({{"type", "text"}, {"text", std::move(text)}});
}

void stream_translator::on_assistant(const json& j, translation& out) {
  if (!j.contains("message") || !j["message"].is_object()) return;
  const auto& m = j["message"];
  if (auto e = str(j, "error"); !e.empty()) synthetic_error_ = e;
  if (str(m, "model") == "<synthetic>") return;  // the CLI's own failure notice; the result line follows
  const bool streamed = streamed_.count(str(m, "id")) > 0;
  if (!m.contains("content") || !m["content"].is_array()) return;
  for (const auto& b : m["content"]) {
    if (!b.is_object()) continue;
    const std::string type = str(b, "type");
    if (type == "text" && !streamed) {
      // Without partial messages (or a message that was not streamed) the whole text comes here, once.
      if (auto t = str(b, "text"); !t.empty()) out.events.push_back({{"type", "text"}, {"text", t}});
    } else if (type == "tool_use") {
      std::string id = str(b, "id");
      if (!tools_seen_.insert(id).second) continue;
      out.events.push_back({{"type", "tool_use"}, {"id", id}, {"name", str(b, "name")},
                            {"input", b.value("input", json::object())}});
    }
  }
}

void stream_translator::on_user(const json& j, translation& out) {
  if (!j.contains("message") || !j["message"].is_object()) return;
  const auto& content = j["message"].value("content", json());
  if (!content.is_array()) return;
  for (const auto& b : content) {
    if (!b.is_object() || str(b, "type") != "tool_result") continue;
    out.events.push_back({{"type", "tool_result"},
                          {"id", str(b, "tool_use_id")},
                          {"output", tool_output_text(b.value("content", json()), max_tool_output_)},
                          {"is_error", b.value("is_error", false)}});
  }
}

void stream_translator::on_result(const json& j, translation& out) {
  saw_result_ = true;
  if (auto s = str(j, "session_id"); !s.empty()) session_id_ = s;
  const bool is_error = j.value("is_error", false);
  const std::string sub = str(j, "subtype");
  std::string text = str(j, "result");
  if (text.empty() && j.contains("errors") && j["errors"].is_array())
    for (const auto& e : j["errors"])
      if (e.is_string()) text += (text.empty() ? "" : "; ") + e.get<std::string>();

  json r = {{"type", "result"}, {"text", text}, {"turns", j.value("num_turns", 0)}, {"is_error", is_error}};
  if (j.contains("total_cost_usd") && j["total_cost_usd"].is_number()) r["cost_usd"] = j["total_cost_usd"];
  if (j.contains("usage") && j["usage"].is_object()) r["usage"] = j["usage"];
  if (!sub.empty()) r["subtype"] = sub;
  if (j.contains("permission_denials") && j["permission_denials"].is_array() && !j["permission_denials"].empty())
    r["permission_denials"] = j["permission_denials"].size();
  out.events.push_back(std::move(r));
  if (!is_error) return;

  // `subtype` is "success" even for API failures: the status and the synthetic line say what went wrong.
  const json status = j.value("api_error_status", json());
  if (is_auth_status(status) || synthetic_error_ == "authentication_failed")
    fail(out, "auth", text.empty() ? "the Anthropic API rejected the credentials" : text);
  else if (status.is_number() || !synthetic_error_.empty())
    fail(out, "api", text.empty() ? "the Anthropic API failed (" + status.dump() + ")" : text);
  else if (sub == "error_max_budget_usd")
    fail(out, "engine", "the agent reached the run's spending limit (options.max_budget_usd; cost " +
                            std::to_string(j.value("total_cost_usd", 0.0)) + " USD as the CLI counts it)");
  else if (sub == "error_max_turns")
    fail(out, "engine", "the agent reached its turn limit (" + std::to_string(j.value("num_turns", 0)) +
                            " turns) before finishing");
  else
    fail(out, "engine", text.empty() ? "claude reported an error (" + sub + ")" : text);
}

}  // namespace berth::worker
