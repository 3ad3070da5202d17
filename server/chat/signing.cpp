#include "server/chat/signing.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/strings.hpp"

namespace berth::chat {

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return to_hex({reinterpret_cast<const char*>(out), len});
}

std::string check_slack_signature(std::string_view secret, std::string_view timestamp, std::string_view signature,
                                  std::string_view body, std::int64_t now_s) {
  if (timestamp.empty() || signature.empty()) return "missing X-Slack-Request-Timestamp or X-Slack-Signature";
  auto ts = parse_int(timestamp);
  if (!ts) return "malformed X-Slack-Request-Timestamp";
  if (*ts < now_s - slack_max_skew_s || *ts > now_s + slack_max_skew_s) return "stale timestamp (more than 5 minutes off)";
  std::string base = "v0:" + std::string(timestamp) + ":";
  base += body;
  std::string expected = "v0=" + hmac_sha256_hex(secret, base);
  if (!same_secret(expected, signature)) return "signature mismatch";
  return {};
}

std::string callback_secret(std::string_view api_key) { return hmac_sha256_hex(api_key, "berth-callback-v1"); }

std::string key_id(std::string_view api_key) { return hmac_sha256_hex(api_key, "berth-key-id").substr(0, 16); }

std::string callback_signature(std::string_view secret, std::string_view body) {
  return "sha256=" + hmac_sha256_hex(secret, body);
}

}  // namespace berth::chat
