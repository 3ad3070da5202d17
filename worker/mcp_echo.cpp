#include "worker/mcp_echo.hpp"

#include <istream>
#include <ostream>

namespace berth::worker {
namespace {
using json = nlohmann::json;
constexpr const char* protocol_version = "2025-03-26";

json error_answer(const json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}
}  // namespace

std::optional<json> mcp_echo_answer(const json& m) {
  if (!m.is_object() || !m.contains("method") || !m["method"].is_string())
    return error_answer(m.is_object() && m.contains("id") ? m["id"] : json(nullptr), -32600, "not a JSON-RPC request");
  if (!m.contains("id")) return std::nullopt;  // a notification (notifications/initialized, cancelled…)
  const auto& id = m["id"];
  const auto method = m["method"].get<std::string>();
  const json params = m.value("params", json::object());
  json result;
  if (method == "initialize") {
    result = {{"protocolVersion", params.value("protocolVersion", protocol_version)},
              {"capabilities", {{"tools", json::object()}}},
              {"serverInfo", {{"name", "berth-echo"}, {"version", BERTH_VERSION}}}};
  } else if (method == "ping") {
    result = json::object();
  } else if (method == "tools/list") {
    result = {{"tools",
               {{{"name", "echo"},
                 {"description", "berth's echo tool: returns the text it is given (an MCP server from the worker image)"},
                 {"inputSchema",
                  {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}, {"required", {"text"}}}}}}}};
  } else if (method == "tools/call") {
    if (params.value("name", "") != "echo") return error_answer(id, -32602, "unknown tool");
    const auto args = params.value("arguments", json::object());
    const std::string text = args.is_object() && args.contains("text") && args["text"].is_string() ? args["text"].get<std::string>() : "";
    result = {{"content", {{{"type", "text"}, {"text", "echo: " + text}}}}, {"isError", false}};
  } else {
    return error_answer(id, -32601, "method not found: " + method);
  }
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}};
}

int run_mcp_echo(std::istream& in, std::ostream& out) {
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto answer = mcp_echo_answer(json::parse(line, nullptr, false));
    if (answer) out << answer->dump() << '\n' << std::flush;
  }
  return 0;
}

}  // namespace berth::worker
