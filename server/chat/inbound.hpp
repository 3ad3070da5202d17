// What a chat platform sent us, reduced to what starts a run. Pure: JSON text in, a decision out. The caller
// has already verified the request (Slack signature, Telegram secret token).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::chat {

struct chat_message {
  std::string source;    // "slack" | "telegram"
  std::string event_id;  // de-duplication key (Slack event_id, Telegram update_id)
  std::string user;      // berth user: slack.<team>.<user> | tg.<chat id>
  std::string session;   // berth session: <channel>.<thread ts> | tg.<chat id>
  std::string text;
  std::string target;  // JSON: where the reply goes ({channel, thread_ts} | {chat_id, reply_to})
};

struct inbound {
  enum kind_t { message, challenge, ignore, invalid } kind = ignore;
  chat_message msg;     // kind == message
  std::string detail;   // challenge value, or why ignored / invalid
};

// Slack Events API: url_verification → challenge; event_callback with a user's message or app_mention →
// message; bot messages, edits, deletions and other subtypes → ignore.
inbound parse_slack(std::string_view body);
// Telegram bot update: a user's text message → message; edits, bots, non-text → ignore.
inbound parse_telegram(std::string_view body);
// GitHub webhook (`event` from X-GitHub-Event, `delivery` from X-GitHub-Delivery): a created issue_comment or
// pull_request_review_comment, or an opened issue, whose text mentions `mention` (a whole word, any case) and
// whose author is not a bot → message for user github.<login> in session <owner>/<repo>#<number>, replying on
// that issue or pull request; anything else → ignore.
inbound parse_github(std::string_view event, std::string_view delivery, std::string_view body, std::string_view mention);
// True when `text` names `mention` as a word (not inside a longer name such as @berthold).
bool mentions(std::string_view text, std::string_view mention);

// `text` cut into pieces of at most `max_bytes`, at line breaks or spaces where possible, never inside a
// UTF-8 character. Telegram allows 4096 characters per message; Slack recommends 4000.
std::vector<std::string> split_message(std::string_view text, std::size_t max_bytes);

}  // namespace berth::chat
