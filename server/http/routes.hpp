// The one route table, and the one place a request's outcome becomes an HTTP status: `authenticate` applies
// the row's auth kind from the headers alone (before any body is read), `dispatch` runs the row's handler and
// maps the domain errors it throws to statuses.
#pragma once
#include <optional>
#include <span>

#include "server/http/api_handlers.hpp"
#include "server/http/router.hpp"
#include "server/runs/run_request.hpp"

namespace berth::http {

std::span<const route> routes();

// Why the caller may not use the matched row (or, for a path under /api/ that matched nothing, any row);
// nullopt when it may. Headers only.
// On success it sets req.users to the caller's scope.
std::optional<reply> authenticate(app& a, const route_match& m, request_view& req);

// 429 + Retry-After while the client is past its failed-credential limit; record_failure counts one more
// (wrong key, wrong dashboard login), logs it and exports it in /metrics.
std::optional<reply> too_many_failures(app& a, const request_view& req);
void record_failure(app& a, const request_view& req, std::string_view what);

// The status of a refusal from the runs layer: the one mapping from domain errors to HTTP.
int http_status_of(runs::refusal r);

// The row's handler, or 404/405; exceptions become statuses here and nowhere else.
reply dispatch(app& a, const route_match& m, const request_view& req);

}  // namespace berth::http
