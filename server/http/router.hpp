// The route table's shape and its matcher. Every endpoint berthd serves is one row of `routes()`
// (server/http/routes.cpp): method, path pattern, handler, how the caller proves who it is, where the handler
// runs, and which listeners serve it. Nothing else decides any of these. Matching is pure.
#pragma once
#include <map>
#include <span>
#include <string>
#include <vector>
#include <string_view>

namespace berth::http {

struct app;
struct reply;
struct request_view;
struct route_match;

// How a row authenticates. Denied unless a row says otherwise: `none` is written out on every open row.
enum class auth_kind {
  key,        // X-API-Key or Authorization: Bearer — checked from the headers, before the body is read
  cookie,     // the dashboard's session cookie — checked before the body is read
  signature,  // the handler verifies the platform's signature over the body (Slack, Telegram)
  none,       // open: liveness, the login form, static assets
};
enum class run_on { io, pool };  // io: memory only, answered on the I/O thread; pool: may block (store, Docker)
enum listener_bit : unsigned { main_listener = 1, metrics_listener = 2 };

using handler_fn = reply (*)(app&, const route_match&, const request_view&);

struct route {
  std::string_view method;  // GET rows answer HEAD too
  std::string_view path;    // "/api/v1/runs/{id}/events": a {name} segment matches one non-empty segment
  handler_fn handler;
  auth_kind auth;
  run_on where;
  unsigned listeners = main_listener;
};

enum class match_result { found, not_found, method_not_allowed };

struct route_match {
  match_result result = match_result::not_found;
  const route* row = nullptr;
  std::string param;                // the first {segment} of the row's pattern (url-decoded), if it has one
  std::vector<std::string> params;  // every {segment}, in order
  std::map<std::string, std::string> query;
  std::string path;   // without the query, trailing slash removed
  unsigned listener = main_listener;
};

route_match match_route(std::span<const route> table, std::string_view method, std::string_view target,
                        unsigned listener = main_listener);
// Paths under /api/ answer 401 to a caller without a valid key whether or not they exist.
bool is_api_path(std::string_view path);
std::map<std::string, std::string> parse_query(std::string_view q);
std::string url_decode(std::string_view s);

}  // namespace berth::http
