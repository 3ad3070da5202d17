// A user's tool policy over the API (GET, PUT, DELETE /api/v1/users/{user}/tools): `allowed_tools`,
// `disallowed_tools`, `permission_mode`. It narrows the operator's policy for every run of that user, and a
// request narrows it further (server/runs/task_builder.hpp). Only a key covering every user may change one:
// a scoped key could otherwise lift a limit set for it.
#pragma once
#include "server/http/api_handlers.hpp"

namespace berth::http {

reply api_tools(app& a, const route_match& m, const request_view& req);

}  // namespace berth::http
