// One outbound HTTP call each: Slack Web API, Telegram Bot API, a callback URL. No retries here (the outbox
// decides); errors never include a token (Telegram's sits in its URL path).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config.hpp"

namespace berth::chat {

struct send_result {
  bool ok = false;
  bool permanent = false;          // retrying cannot help (bad token, unknown channel, key gone)
  std::string error;               // for the operator and the delivery row
  std::int64_t retry_after_ms = 0;  // the server asked us to wait (429 Retry-After)
  nlohmann::json answer;           // the API's JSON answer when ok
};

// POST {BERTH_SLACK_API_BASE}/{method} with the bot token; Slack's {"ok": false, "error"} is a failure.
send_result slack_call(const config& c, const std::string& method, const nlohmann::json& body);
// POST {BERTH_TELEGRAM_API_BASE}/bot<token>/{method}; {"ok": false} is a failure.
send_result telegram_call(const config& c, const std::string& method, const nlohmann::json& body);
// {POST|PATCH} {BERTH_GITHUB_API_BASE}{path} with the token; a 2xx JSON object is success. 401/404/422 cannot
// be fixed by retrying; 403 can (GitHub's rate limits answer 403 with Retry-After).
send_result github_call(const config& c, const std::string& method, const std::string& path, const nlohmann::json& body);
// POST the signed body to an allowed callback URL; any 2xx is success.
send_result callback_post(const std::string& url, const std::string& body, const std::string& signature,
                          const std::string& timestamp, std::int64_t delivery_id);

}  // namespace berth::chat
