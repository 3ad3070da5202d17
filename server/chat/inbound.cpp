#include "server/chat/inbound.hpp"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "common/json_bounded.hpp"

namespace berth::chat {
namespace {
using json = nlohmann::json;

// Platform ids are alphanumeric (Slack) or integers (Telegram); anything else is mapped to '_' so the result
// is always a valid berth user/session.
std::string safe(std::string_view s, std::size_t max, std::string_view extra = "") {
  std::string out;
  for (char c : s.substr(0, max)) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
              extra.find(c) != std::string_view::npos;
    out += ok ? c : '_';
  }
  return out;
}

// A positive integer field below 2^53 (GitHub's numbers are), or 0.
std::int64_t positive(const json& j, const char* k) {
  const auto v = integer_at(j, k);
  return v > 0 && v < (std::int64_t{1} << 53) ? v : 0;
}

// The object field k, or nullptr when it is missing or not an object.
const json* object_at(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

inbound reject(inbound::kind_t k, std::string why) {
  inbound in;
  in.kind = k;
  in.detail = std::move(why);
  return in;
}
}  // namespace

inbound parse_slack(std::string_view body) {
  auto j = parse_json(body);
  if (!j.is_object()) return reject(inbound::invalid, "body is not a JSON object");
  auto type = string_at(j, "type");
  if (type == "url_verification") {
    auto c = string_at(j, "challenge");
    if (c.empty()) return reject(inbound::invalid, "url_verification without a challenge");
    inbound in;
    in.kind = inbound::challenge;
    in.detail = c;
    return in;
  }
  if (type != "event_callback") return reject(inbound::ignore, "type " + type);
  auto ev = j.find("event");
  if (ev == j.end() || !ev->is_object()) return reject(inbound::invalid, "event_callback without an event");
  auto etype = string_at(*ev, "type");
  if (etype != "message" && etype != "app_mention") return reject(inbound::ignore, "event type " + etype);
  if (ev->contains("bot_id") || ev->contains("bot_profile")) return reject(inbound::ignore, "a bot's message");
  if (auto sub = string_at(*ev, "subtype"); !sub.empty()) return reject(inbound::ignore, "message subtype " + sub);
  auto event_id = string_at(j, "event_id"), team = string_at(j, "team_id"), user = string_at(*ev, "user"), channel = string_at(*ev, "channel");
  auto ts = string_at(*ev, "ts"), thread = string_at(*ev, "thread_ts"), text = string_at(*ev, "text");
  if (event_id.empty() || user.empty() || channel.empty() || ts.empty())
    return reject(inbound::invalid, "event without event_id, user, channel or ts");
  if (text.empty()) return reject(inbound::ignore, "empty message");
  if (thread.empty()) thread = ts;  // a top-level message starts its own thread
  inbound in;
  in.kind = inbound::message;
  in.msg = {"slack", event_id, safe("slack." + team + "." + user, 64), safe(channel + "." + thread, 128), text,
            json{{"channel", channel}, {"thread_ts", thread}}.dump()};
  return in;
}

namespace {
// Telegram's ids fit in 53 bits; an unsigned 2^64-1 would otherwise wrap to user tg.-1.
bool valid_chat_id(const json& id) {
  constexpr std::int64_t max_chat_id = std::int64_t{1} << 53;
  if (!id.is_number_integer()) return false;
  if (id.is_number_unsigned()) return id.get<std::uint64_t>() <= static_cast<std::uint64_t>(max_chat_id);
  auto v = id.get<std::int64_t>();
  return v >= -max_chat_id && v <= max_chat_id;
}
}  // namespace

inbound parse_telegram(std::string_view body) {
  auto j = parse_json(body);
  if (!j.is_object() || !j.contains("update_id") || !j["update_id"].is_number_integer())
    return reject(inbound::invalid, "not a Telegram update");
  auto m = j.find("message");
  if (m == j.end() || !m->is_object()) return reject(inbound::ignore, "not a new message (edits and others are ignored)");
  auto from = m->find("from");
  if (from != m->end() && from->is_object()) {
    auto bot = from->find("is_bot");
    if (bot != from->end() && !bot->is_boolean()) return reject(inbound::invalid, "from.is_bot is not a boolean");
    if (bot != from->end() && bot->get<bool>()) return reject(inbound::ignore, "a bot's message");
  }
  auto chat = m->find("chat");
  if (chat == m->end() || !chat->is_object() || !chat->contains("id") || !valid_chat_id((*chat)["id"]))
    return reject(inbound::invalid, "message without a valid chat.id");
  auto text = string_at(*m, "text");
  if (text.empty()) return reject(inbound::ignore, "not a text message");
  auto chat_id = (*chat)["id"].get<std::int64_t>();
  inbound in;
  in.kind = inbound::message;
  json target = {{"chat_id", chat_id}};
  if (m->contains("message_id") && (*m)["message_id"].is_number_integer()) target["reply_to"] = (*m)["message_id"];
  in.msg = {"telegram", std::to_string(j["update_id"].get<std::int64_t>()), "tg." + std::to_string(chat_id),
            "tg." + std::to_string(chat_id), text, target.dump()};
  return in;
}

std::vector<std::string> split_message(std::string_view text, std::size_t max_bytes) {
  std::vector<std::string> out;
  while (text.size() > max_bytes) {
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    auto nl = cut ? text.rfind('\n', cut - 1) : std::string_view::npos;  // the piece ends after it: ≤ cut bytes
    auto sp = cut ? text.rfind(' ', cut - 1) : std::string_view::npos;
    if (nl != std::string_view::npos && nl > max_bytes / 2) cut = nl + 1;
    else if (sp != std::string_view::npos && sp > max_bytes / 2) cut = sp + 1;
    if (cut == 0) cut = max_bytes;
    out.emplace_back(text.substr(0, cut));
    text.remove_prefix(cut);
  }
  if (!text.empty() || out.empty()) out.emplace_back(text);
  return out;
}

bool mentions(std::string_view text, std::string_view mention) {
  auto lower = [](std::string_view v) {
    std::string out(v);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const std::string t = lower(text), m = lower(mention);
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; };
  for (auto at = t.find(m); at != std::string::npos; at = t.find(m, at + 1)) {
    const bool starts = at == 0 || !word(t[at - 1]);
    const bool ends = at + m.size() == t.size() || !word(t[at + m.size()]);
    if (starts && ends) return true;
  }
  return false;
}

inbound parse_github(std::string_view event, std::string_view delivery, std::string_view body, std::string_view mention) {
  inbound in;
  auto j = parse_json(body);
  if (!j.is_object()) return {inbound::invalid, {}, "the body is not a JSON object"};
  if (delivery.empty() || delivery.size() > 128) return {inbound::invalid, {}, "missing or oversized X-GitHub-Delivery"};
  // Every field is read type-checked: a hostile body with `"action": {}` gets 400, never an exception.
  const std::string action = string_at(j, "action");
  const json* thing = nullptr;  // the comment, or the opened issue
  const json* numbered = nullptr;  // the issue or pull request it is on
  if (event == "issue_comment" && action == "created") {
    thing = object_at(j, "comment");
    numbered = object_at(j, "issue");
  } else if (event == "pull_request_review_comment" && action == "created") {
    thing = object_at(j, "comment");
    numbered = object_at(j, "pull_request");
  } else if (event == "issues" && action == "opened") {
    thing = object_at(j, "issue");
    numbered = thing;
  } else {
    return {inbound::ignore, {}, "event " + std::string(event) + "/" + action + " starts nothing"};
  }
  const json* repository = object_at(j, "repository");
  if (!thing || !numbered || !repository) return {inbound::invalid, {}, "the event lacks its comment, issue or repository"};
  const json* author = object_at(*thing, "user");
  const std::string login = author ? string_at(*author, "login") : "";
  const std::string repo = string_at(*repository, "full_name");
  const auto number = positive(*numbered, "number");
  const std::string text = string_at(*thing, "body");
  if (login.empty() || repo.empty() || number <= 0) return {inbound::invalid, {}, "the event lacks author, repository or number"};
  if (string_at(*author, "type") == "Bot" || login.ends_with("[bot]")) return {inbound::ignore, {}, "written by a bot"};
  if (!mentions(text, mention)) return {inbound::ignore, {}, "does not mention " + std::string(mention)};
  const std::string session = repo + "#" + std::to_string(number);
  in.kind = inbound::message;
  // The agent learns where it was asked and where the repository is (its clone goes through the gateway).
  const std::string title = string_at(*numbered, "title");
  const std::string context = "[GitHub " + session + (title.empty() ? "" : " \"" + split_message(title, 200).front() + "\"") +
                              "; repository https://github.com/" + repo + "]\n\n";
  in.msg = {"github", std::string(delivery), safe("github." + login, 64), safe(session, 128, "/#"), context + text,
            json{{"repo", repo}, {"issue", number}}.dump()};
  return in;
}

}  // namespace berth::chat
