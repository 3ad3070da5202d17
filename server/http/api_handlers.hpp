// The API's handlers: synchronous functions from a request view to a reply, free of Beast types, each named
// by one row of the route table (routes.cpp), which also says how its caller authenticates and where it runs.
// A reply may instead ask the session to stream a run's events (sse).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "server/http/app.hpp"
#include "server/http/router.hpp"

namespace berth::http {

struct request_view {
  std::string_view method;
  std::string_view target;
  std::string_view body;
  std::string_view content_type;
  std::string_view accept;
  std::string_view api_key;
  std::string_view authorization;
  std::string_view last_event_id;
  std::string_view cookie;
  std::string_view forwarded_proto;
  std::string_view origin;
  std::string_view host;
  std::string_view sec_fetch_site;
  std::string_view csrf_token;  // X-CSRF-Token
  std::string_view slack_timestamp;  // X-Slack-Request-Timestamp
  std::string_view slack_signature;  // X-Slack-Signature
  std::string_view telegram_secret;  // X-Telegram-Bot-Api-Secret-Token
  std::string_view github_signature;  // X-Hub-Signature-256
  std::string_view github_event;      // X-GitHub-Event
  std::string_view github_delivery;   // X-GitHub-Delivery
  std::string_view client;  // the client's address (the peer's, or X-Forwarded-For's behind a trusted proxy)
  user_scope users;         // set by authenticate: the users the caller may see and act for (null: every user)
};

struct sse_plan {
  std::string run;  // empty: the dashboard overview
  std::int64_t after = 0;
  std::string dashboard_session;  // a stream opened with the cookie ends when its session does
  bool nothing_left = false;      // the run has ended and `after` is at or past its last event
};

struct reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<sse_plan> sse;
};

reply error_reply(int status, std::string_view code, std::string_view message);
reply json_reply(int status, const nlohmann::json& j);
bool is_json(std::string_view content_type);  // application/json, parameters aside
reply forbidden_user(const std::string& user);  // 403: the key's scope does not cover this user

// A run / a delivery as the API shows it (also the rows of the dashboard's overview).
nlohmann::json time_or_null(const std::optional<std::int64_t>& ms);
nlohmann::json run_json(const store::run_record& r, bool full);
nlohmann::json delivery_json(const store::delivery_record& d);

// Shared by the API (X-API-Key) and the dashboard's data endpoints (session cookie).
// Another user's run is 404 to a caller whose scope does not cover it.
reply list_runs(app& a, const route_match& m, const user_scope& users);
reply get_run(app& a, const std::string& id, const user_scope& users);
reply run_events(app& a, const route_match& m, const request_view& req);
reply cancel_run(app& a, const std::string& id, const user_scope& users);

// Route handlers (rows of routes.cpp).
reply api_health(app& a, const route_match& m, const request_view& req);
reply api_ready(app& a, const route_match& m, const request_view& req);
reply api_metrics(app& a, const route_match& m, const request_view& req);
reply api_create_run(app& a, const route_match& m, const request_view& req);
reply api_list_runs(app& a, const route_match& m, const request_view& req);
reply api_get_run(app& a, const route_match& m, const request_view& req);
reply api_run_events(app& a, const route_match& m, const request_view& req);
reply api_cancel_run(app& a, const route_match& m, const request_view& req);
reply api_list_sessions(app& a, const route_match& m, const request_view& req);
reply api_list_deliveries(app& a, const route_match& m, const request_view& req);
reply api_instructions(app& a, const route_match& m, const request_view& req);  // GET, PUT, DELETE

}  // namespace berth::http
