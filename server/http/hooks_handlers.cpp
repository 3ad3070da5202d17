#include "server/http/hooks_handlers.hpp"

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/chat/inbound.hpp"
#include "server/chat/signing.hpp"
#include "server/runs/run_request.hpp"

namespace berth::http {
namespace {
using json = nlohmann::json;

reply start_chat_run(app& a, const chat::chat_message& m) {
  if (m.text.size() > runs::max_message_bytes) {
    log::warn("chat message too long; ignored", {{"source", m.source}, {"bytes", std::to_string(m.text.size())}});
    return json_reply(200, {{"ok", true}, {"ignored", "message exceeds 256 KiB"}});
  }
  if (!a.db.claim_chat_event(m.source, m.event_id, now_ms())) {
    log::info("chat event already handled; retry ignored", {{"source", m.source}, {"event", m.event_id}});
    return json_reply(200, {{"ok", true}, {"duplicate", true}});
  }
  runs::run_request r;
  r.user = m.user;
  r.session = m.session;
  r.message = m.text;
  r.engine = a.cfg.default_engine;
  r.replies.push_back({m.source, m.target});
  if (m.source == "github") r.trigger = "github:" + m.session;  // its agent may read that repository
  try {
    auto rec = a.manager.submit(r);
    a.db.link_chat_event(m.source, m.event_id, rec.id);
    a.outbox.track(rec.id);
    log::info("chat message started a run", {{"source", m.source}, {"run", rec.id}, {"user", rec.user}});
    return json_reply(200, {{"ok", true}, {"run", rec.id}});
  } catch (const runs::request_error& e) {
    // Not admitted (queue full, no engine credentials, shutting down). A platform retry would meet the same
    // answer or come too late, so the message is recorded as a failed run and its reply tells the user why.
    auto rec = a.manager.record_refused(r, e.what());
    a.db.link_chat_event(m.source, m.event_id, rec.id);
    return json_reply(200, {{"ok", true}, {"run", rec.id}, {"refused", e.what()}});
  }
}

reply dispatch(app& a, const chat::inbound& in, const char* source) {
  switch (in.kind) {
    case chat::inbound::challenge: return json_reply(200, {{"challenge", in.detail}});
    case chat::inbound::invalid:
      log::warn("chat hook: malformed event", {{"source", source}, {"why", in.detail}});
      return error_reply(400, "invalid_event", in.detail);
    case chat::inbound::ignore: return json_reply(200, {{"ok", true}, {"ignored", in.detail}});
    case chat::inbound::message: return start_chat_run(a, in.msg);
  }
  return error_reply(500, "internal", "unhandled event kind");
}
}  // namespace

reply slack_hook(app& a, const request_view& req) {
  if (a.cfg.slack_signing_secret.empty())
    return error_reply(404, "not_configured", "the Slack integration is off (set BERTH_SLACK_SIGNING_SECRET and BERTH_SLACK_BOT_TOKEN)");
  auto why = chat::check_slack_signature(a.cfg.slack_signing_secret, req.slack_timestamp, req.slack_signature,
                                         req.body, now_ms() / 1000);
  if (!why.empty()) {
    log::warn("slack hook refused", {{"why", why}});
    return error_reply(401, "bad_signature", "the Slack signature is missing, stale or wrong");
  }
  return dispatch(a, chat::parse_slack(req.body), "slack");
}

reply telegram_hook(app& a, const request_view& req) {
  if (a.cfg.telegram_secret_token.empty())
    return error_reply(404, "not_configured", "the Telegram integration is off (set BERTH_TELEGRAM_BOT_TOKEN and BERTH_TELEGRAM_SECRET_TOKEN)");
  if (!same_secret(a.cfg.telegram_secret_token, req.telegram_secret)) {
    log::warn("telegram hook refused: missing or wrong secret token");
    return error_reply(401, "bad_secret_token", "missing or wrong X-Telegram-Bot-Api-Secret-Token");
  }
  return dispatch(a, chat::parse_telegram(req.body), "telegram");
}

reply github_hook(app& a, const request_view& req) {
  if (a.cfg.github_webhook_secret.empty())
    return error_reply(404, "not_configured", "the GitHub integration is off (set BERTH_GITHUB_WEBHOOK_SECRET and BERTH_GITHUB_TOKEN)");
  const std::string expected = "sha256=" + chat::hmac_sha256_hex(a.cfg.github_webhook_secret, req.body);
  if (req.github_signature.empty() || !same_secret(expected, req.github_signature)) {
    log::warn("github hook refused: missing or wrong signature", {{"delivery", std::string(req.github_delivery.substr(0, 64))}});
    return error_reply(401, "bad_signature", "missing or wrong X-Hub-Signature-256");
  }
  return dispatch(a, chat::parse_github(req.github_event, req.github_delivery, req.body, a.cfg.github_mention), "github");
}

}  // namespace berth::http
