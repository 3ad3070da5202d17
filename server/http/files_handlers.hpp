// Skills, subagents and MCP settings over the API, per user (`/api/v1/users/{user}/…`, the key's user scope)
// and global (`/api/v1/skills`, `/api/v1/agents`: anyone may read, only BERTH_ADMIN_KEYS may change). A skill
// is JSON `{"files": {…}}` or a .tar.gz (`Content-Type: application/gzip`); an agent is `text/markdown`; MCP
// is Claude Code's `{"mcpServers": {…}}`. Checks are server/storage/bundles.hpp's: 400 malformed, 413 over a
// limit, nothing stored either way. Plain functions from a request to a reply (the rows are in routes.cpp).
#pragma once
#include "server/http/api_handlers.hpp"

namespace berth::http {

reply api_skills(app& a, const route_match& m, const request_view& req);        // GET list (user or global)
reply api_skill(app& a, const route_match& m, const request_view& req);         // GET, PUT, DELETE
reply api_agents(app& a, const route_match& m, const request_view& req);
reply api_agent(app& a, const route_match& m, const request_view& req);
reply api_mcp(app& a, const route_match& m, const request_view& req);           // GET, PUT, DELETE

}  // namespace berth::http
