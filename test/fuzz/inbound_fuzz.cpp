// Slack, Telegram and GitHub webhooks after their signature check: parsing never throws, a message always names a
// bounded user and session, and the signature check refuses anything not made with the secret.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/chat/inbound.hpp"
#include "server/chat/signing.hpp"
#include "server/runs/run_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (auto parsed : {berth::chat::parse_slack(in), berth::chat::parse_telegram(in),
                      berth::chat::parse_github("issue_comment", "d", in, "@berth"),
                      berth::chat::parse_github("issues", "d", in, "@berth")}) {
    if (parsed.kind != berth::chat::inbound::message) continue;
    if (!berth::runs::valid_user(parsed.msg.user) || !berth::runs::valid_session(parsed.msg.session)) std::abort();
  }
  auto split = in.find('|');
  auto ts = in.substr(0, split == std::string_view::npos ? 0 : split);
  auto sig = split == std::string_view::npos ? in : in.substr(split + 1);
  if (berth::chat::check_slack_signature("secret", ts, sig, in, 1700000000).empty()) std::abort();
  return 0;
}
