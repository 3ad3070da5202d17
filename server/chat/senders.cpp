#include "server/chat/senders.hpp"

#include <algorithm>
#include <charconv>

#include <httplib.h>

#include "common/json_bounded.hpp"
#include "server/chat/callback.hpp"

namespace berth::chat {
namespace {
// Retry-After in seconds (the HTTP-date form is treated as absent), clamped to an hour: a hostile or broken
// answer can neither overflow the product nor park a delivery for days.
std::int64_t retry_after_ms(const std::string& header) {
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (ec != std::errc() || end != header.data() + header.size()) return 0;
  return std::clamp<std::int64_t>(seconds, 0, 3600) * 1000;
}

using json = nlohmann::json;
constexpr int connect_timeout_s = 5;
constexpr int read_timeout_s = 15;

struct http_answer {
  int status = 0;
  std::string body;
  std::string error;
  std::int64_t retry_after_ms = 0;
};

http_answer post(const std::string& base, const std::string& path, const httplib::Headers& headers,
                 const std::string& body) {
  http_answer a;
  httplib::Client cli(base);
  cli.set_connection_timeout(connect_timeout_s, 0);
  cli.set_read_timeout(read_timeout_s, 0);
  cli.set_write_timeout(read_timeout_s, 0);
  auto r = cli.Post(path, headers, body, "application/json; charset=utf-8");
  if (!r) {
    a.error = "connection failed: " + httplib::to_string(r.error());
    return a;
  }
  a.status = r->status;
  a.body = r->body;
  a.retry_after_ms = retry_after_ms(r->get_header_value("Retry-After"));
  return a;
}

// Slack and Telegram answer JSON with an "ok" flag; anything else (HTML error pages, 5xx) is transient.
send_result api_result(const http_answer& a, const std::string& api) {
  send_result s;
  s.retry_after_ms = a.retry_after_ms;
  if (!a.error.empty()) {
    s.error = api + ": " + a.error;
    return s;
  }
  auto j = parse_json(a.body);
  if (a.status >= 200 && a.status < 300 && bool_at(j, "ok")) {
    s.ok = true;
    s.answer = j;
    return s;
  }
  std::string why = string_at(j, "error", string_at(j, "description"));
  s.error = api + ": HTTP " + std::to_string(a.status) + (why.empty() ? "" : " " + why);
  if (j.is_object() && j.contains("parameters"))  // clamped: a hostile answer cannot overflow or park the outbox
    s.retry_after_ms = std::clamp<std::int64_t>(integer_at(j["parameters"], "retry_after"), 0, 3600) * 1000;
  // Errors no retry can fix: bad credentials, a channel or chat we cannot reach, a malformed request.
  static const char* permanent[] = {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                                    "channel_not_found", "not_in_channel", "is_archived", "msg_too_long",
                                    "no_text", "invalid_arguments"};
  for (const char* p : permanent)
    if (why == p) s.permanent = true;
  if (a.status == 400 || a.status == 401 || a.status == 403 || a.status == 404) s.permanent = true;
  return s;
}

// POST `body` to {base}{path_suffix} of a chat API configured by URL, where `base` may carry a path.
send_result chat_api_call(const std::string& base_url, const std::string& path_suffix, const httplib::Headers& h,
                          const json& body, const std::string& api) {
  auto u = parse_url(base_url);
  if (!u) return {.permanent = true, .error = api + ": the API base is not a URL"};
  std::string path = (u->path == "/" ? "" : u->path) + path_suffix;
  return api_result(post(u->origin(), path, h, body.dump(-1, ' ', false, json::error_handler_t::replace)), api);
}
}  // namespace

send_result slack_call(const config& c, const std::string& method, const json& body) {
  if (c.slack_bot_token.empty()) return {.permanent = true, .error = "BERTH_SLACK_BOT_TOKEN is not set"};
  return chat_api_call(c.slack_api_base, "/" + method, {{"Authorization", "Bearer " + c.slack_bot_token}}, body,
                       "slack " + method);
}

send_result telegram_call(const config& c, const std::string& method, const json& body) {
  if (c.telegram_bot_token.empty()) return {.permanent = true, .error = "BERTH_TELEGRAM_BOT_TOKEN is not set"};
  // The token is part of the path; it never appears in an error (errors name the method only).
  return chat_api_call(c.telegram_api_base, "/bot" + c.telegram_bot_token + "/" + method, {}, body, "telegram " + method);
}

send_result github_call(const config& c, const std::string& method, const std::string& path, const json& body) {
  if (c.github_token.empty()) return {.permanent = true, .error = "BERTH_GITHUB_TOKEN is not set"};
  auto u = parse_url(c.github_api_base);
  if (!u) return {.permanent = true, .error = "github: BERTH_GITHUB_API_BASE is not a URL"};
  httplib::Client cli(u->origin());
  cli.set_connection_timeout(connect_timeout_s, 0);
  cli.set_read_timeout(read_timeout_s, 0);
  cli.set_write_timeout(read_timeout_s, 0);
  const httplib::Headers h = {{"Authorization", "Bearer " + c.github_token},
                              {"Accept", "application/vnd.github+json"},
                              {"X-GitHub-Api-Version", "2022-11-28"},
                              {"User-Agent", "berthd/" BERTH_VERSION}};
  const std::string full = (u->path == "/" ? "" : u->path) + path;
  const auto text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  auto r = method == "PATCH" ? cli.Patch(full, h, text, "application/json") : cli.Post(full, h, text, "application/json");
  send_result s;
  const std::string api = "github " + method + " " + path;
  if (!r) {
    s.error = api + ": connection failed: " + httplib::to_string(r.error());
    return s;
  }
  s.retry_after_ms = retry_after_ms(r->get_header_value("Retry-After"));
  auto j = parse_json(r->body);
  if (r->status >= 200 && r->status < 300 && j.is_object()) {
    s.ok = true;
    s.answer = j;
    return s;
  }
  s.error = api + ": HTTP " + std::to_string(r->status) + (string_at(j, "message").empty() ? "" : " " + string_at(j, "message"));
  s.permanent = r->status == 401 || r->status == 404 || r->status == 422 || r->status == 400;
  return s;
}

send_result callback_post(const std::string& url, const std::string& body, const std::string& signature,
                          const std::string& timestamp, std::int64_t delivery_id) {
  send_result s;
  auto u = parse_url(url);
  if (!u) return {.permanent = true, .error = "callback_url is not a URL"};
  httplib::Headers h = {{"X-Berth-Signature", signature},
                        {"X-Berth-Timestamp", timestamp},
                        {"X-Berth-Delivery", std::to_string(delivery_id)},
                        {"User-Agent", "berthd/" BERTH_VERSION}};
  auto a = post(u->origin(), u->path, h, body);
  s.retry_after_ms = a.retry_after_ms;
  if (!a.error.empty()) s.error = "callback: " + a.error;
  else if (a.status >= 200 && a.status < 300) s.ok = true;
  else s.error = "callback: HTTP " + std::to_string(a.status);
  return s;
}

}  // namespace berth::chat
