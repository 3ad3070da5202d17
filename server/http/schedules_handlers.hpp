// Schedules and heartbeats over the API: create, list, read, delete, pause and resume; a user's heartbeat.
// Plain functions from a request to a reply (the rows are in routes.cpp).
#pragma once
#include "server/http/api_handlers.hpp"

namespace berth::http {

reply api_create_schedule(app& a, const route_match& m, const request_view& req);
reply api_list_schedules(app& a, const route_match& m, const request_view& req);
reply api_schedule(app& a, const route_match& m, const request_view& req);          // GET, DELETE
reply api_pause_schedule(app& a, const route_match& m, const request_view& req);
reply api_resume_schedule(app& a, const route_match& m, const request_view& req);
reply api_heartbeat(app& a, const route_match& m, const request_view& req);         // GET, PUT, DELETE

}  // namespace berth::http
