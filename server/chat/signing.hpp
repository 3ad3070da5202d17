// HMAC-SHA256 signatures: Slack's request signing (v0), berth's callback signing, and the per-key callback
// secret. Pure (OpenSSL's one-shot HMAC).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace berth::chat {

std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// Slack: `X-Slack-Signature: v0=<hex HMAC(secret, "v0:" + ts + ":" + body)>`, `X-Slack-Request-Timestamp` within
// 5 minutes of now. Empty when valid, else why not (for the log; the caller only learns 401).
inline constexpr std::int64_t slack_max_skew_s = 300;
std::string check_slack_signature(std::string_view secret, std::string_view timestamp, std::string_view signature,
                                  std::string_view body, std::int64_t now_s);

// Callbacks are signed with a secret derived from the API key that started the run, so every key has its own
// and a caller can compute it: hex(HMAC-SHA256(key, "berth-callback-v1")).
std::string callback_secret(std::string_view api_key);
// Which key started a run, recorded without the key: the first 16 hex digits of HMAC(key, "berth-key-id").
std::string key_id(std::string_view api_key);
// `X-Berth-Signature: sha256=<hex HMAC(secret, body)>`.
std::string callback_signature(std::string_view secret, std::string_view body);

}  // namespace berth::chat
