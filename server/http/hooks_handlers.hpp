// Chat platforms' webhooks: POST /hooks/slack (Events API, signed) and POST /hooks/telegram (bot webhook,
// secret token). Each request is verified before its body is even parsed; a message becomes a run whose reply
// is owed to the thread or chat it came from (the outbox delivers it). Retries of the same event start nothing.
#pragma once
#include "server/http/api_handlers.hpp"

namespace berth::http {

reply slack_hook(app& a, const request_view& req);
reply telegram_hook(app& a, const request_view& req);
// X-Hub-Signature-256 is checked over the raw body before anything is parsed; unsigned or wrong: 401.
reply github_hook(app& a, const request_view& req);

}  // namespace berth::http
