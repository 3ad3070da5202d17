#include "server/storage/mcp_config.hpp"

#include <cctype>
#include <set>

#include "common/json_bounded.hpp"

namespace berth::storage {
namespace {
using json = nlohmann::json;

bool short_word(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

bool strings(const json& v, std::size_t max_items, std::size_t max_bytes) {
  if (!v.is_array() || v.size() > max_items) return false;
  for (const auto& s : v)
    if (!s.is_string() || s.get<std::string>().size() > max_bytes) return false;
  return true;
}

bool string_map(const json& v, std::size_t max_items) {
  if (!v.is_object() || v.size() > max_items) return false;
  for (const auto& [k, s] : v.items())
    if (k.empty() || k.size() > 128 || !s.is_string() || s.get<std::string>().size() > 4096) return false;
  return true;
}

// http(s)://host[:port]/… → host and port; false when it is not such a URL.
bool split_url(const std::string& url, std::string& host, int& port) {
  std::string_view u = url;
  bool tls = u.starts_with("https://");
  if (!tls && !u.starts_with("http://")) return false;
  u.remove_prefix(tls ? 8 : 7);
  auto authority = u.substr(0, u.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  port = tls ? 443 : 80;
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.back() != ']') {
    port = 0;
    for (char c : authority.substr(colon + 1)) {
      if (c < '0' || c > '9' || port > 65535) return false;
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return false;
    authority = authority.substr(0, colon);
  }
  if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']') authority = authority.substr(1, authority.size() - 2);
  host.clear();
  for (char c : authority) host += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !host.empty();
}
}  // namespace

std::optional<json> check_mcp_config(const json& body, const std::function<bool(const std::string&)>& command_exists,
                                     const std::function<bool(const std::string&, int)>& url_allowed, std::string& why) {
  if (!body.is_object() || body.size() != 1 || !body.contains("mcpServers") || !body["mcpServers"].is_object()) {
    why = "send {\"mcpServers\": {\"name\": {\"command\": …} | {\"type\": \"http\", \"url\": …}}}";
    return std::nullopt;
  }
  const auto& servers = body["mcpServers"];
  if (servers.size() > max_mcp_servers) {
    why = "at most " + std::to_string(max_mcp_servers) + " MCP servers";
    return std::nullopt;
  }
  json out = {{"mcpServers", json::object()}};
  for (const auto& [name, s] : servers.items()) {
    const std::string where = "mcpServers." + name.substr(0, 64);
    if (!short_word(name, 64) || !s.is_object()) {
      why = where + ": a server is a name of [A-Za-z0-9_-] mapping to an object";
      return std::nullopt;
    }
    if (s.contains("type") && !s["type"].is_string()) {
      why = where + ".type must be \"stdio\", \"http\" or \"sse\"";
      return std::nullopt;
    }
    const std::string type = string_at(s, "type", s.contains("url") ? "http" : "stdio");
    json kept = json::object();
    for (const auto& [k, v] : s.items()) {
      static const std::set<std::string> stdio_keys = {"type", "command", "args", "env"}, remote_keys = {"type", "url", "headers"};
      if (!(type == "stdio" ? stdio_keys : remote_keys).count(k)) {
        why = where + ": unknown field \"" + k.substr(0, 64) + "\"";
        return std::nullopt;
      }
    }
    if (type == "stdio") {
      if (!s.contains("command") || !s["command"].is_string() || s["command"].get<std::string>().empty() ||
          s["command"].get<std::string>().size() > 256) {
        why = where + ": a stdio server needs \"command\"";
        return std::nullopt;
      }
      const auto command = s["command"].get<std::string>();
      if (s.contains("args") && !strings(s["args"], 64, 4096)) {
        why = where + ".args must be an array of at most 64 strings";
        return std::nullopt;
      }
      if (s.contains("env") && !string_map(s["env"], 32)) {
        why = where + ".env must map at most 32 names to strings";
        return std::nullopt;
      }
      if (!command_exists(command)) {
        why = where + ": \"" + command + "\" is not a command in the worker image";
        return std::nullopt;
      }
      kept = {{"type", "stdio"}, {"command", command}, {"args", s.value("args", json::array())}};
      if (s.contains("env")) kept["env"] = s["env"];
    } else if (type == "http" || type == "sse") {
      std::string host;
      int port = 0;
      if (!s.contains("url") || !s["url"].is_string() || s["url"].get<std::string>().size() > 2048 ||
          !split_url(s["url"].get<std::string>(), host, port)) {
        why = where + ": a remote server needs an http(s) \"url\"";
        return std::nullopt;
      }
      if (s.contains("headers") && !string_map(s["headers"], 32)) {
        why = where + ".headers must map at most 32 names to strings";
        return std::nullopt;
      }
      if (!url_allowed(host, port)) {
        why = where + ": " + host + ":" + std::to_string(port) + " is not in BERTH_EGRESS_ALLOW";
        return std::nullopt;
      }
      kept = {{"type", type}, {"url", s["url"]}};
      if (s.contains("headers")) kept["headers"] = s["headers"];
    } else {
      why = where + ": type must be stdio, http or sse";
      return std::nullopt;
    }
    out["mcpServers"][name] = kept;
  }
  return out;
}

}  // namespace berth::storage
