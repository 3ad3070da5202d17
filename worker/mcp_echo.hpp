// `berth-worker mcp-echo`: the smallest stdio MCP server, shipped in the worker image so an operator (and the
// tests) can configure an MCP server that is certainly there. One tool, `echo`, which returns its `text`.
// Newline-delimited JSON-RPC 2.0 on stdin/stdout, as MCP's stdio transport is. Pure apart from the loop.
#pragma once
#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace berth::worker {

// The answer to one message (nullopt for a notification, which gets none).
std::optional<nlohmann::json> mcp_echo_answer(const nlohmann::json& message);

// Reads messages until end of input; returns the exit status.
int run_mcp_echo(std::istream& in, std::ostream& out);

}  // namespace berth::worker
