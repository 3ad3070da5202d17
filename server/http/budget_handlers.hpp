// A user's daily budget over the API: GET (the budget, today's spend, when it resets), PUT and DELETE. Only a
// key that covers every user may change a budget: a key scoped to some users reads theirs, it cannot raise
// them. Plain functions from a request to a reply (the rows are in routes.cpp).
#pragma once
#include "server/http/api_handlers.hpp"

namespace berth::http {

reply api_budget(app& a, const route_match& m, const request_view& req);  // GET, PUT, DELETE

}  // namespace berth::http
