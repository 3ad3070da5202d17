// A user's MCP servers, in Claude Code's `{"mcpServers": {name: …}}` form, checked before they are kept:
// a stdio server (`command`, `args`, `env`) may only run a command the worker image has (`command_exists`),
// a remote one (`type` http or sse, `url`, `headers`) only reach what BERTH_EGRESS_ALLOW lists
// (`url_allowed`; the worker reaches it through the gateway's CONNECT, which checks again). Pure apart from
// the two callbacks.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace berth::storage {

inline constexpr std::size_t max_mcp_servers = 16;

std::optional<nlohmann::json> check_mcp_config(const nlohmann::json& body,
                                               const std::function<bool(const std::string& command)>& command_exists,
                                               const std::function<bool(const std::string& host, int port)>& url_allowed,
                                               std::string& why);

}  // namespace berth::storage
