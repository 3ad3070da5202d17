// Chat integrations' pure parts: Slack signatures, inbound events, message splitting, callback allow-list.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "server/chat/callback.hpp"
#include "server/chat/inbound.hpp"
#include "server/chat/signing.hpp"

using namespace berth::chat;
using nlohmann::json;

TEST_CASE("hmac-sha256 matches the RFC 4231 test vector") {
  CHECK(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST_CASE("slack signatures: valid - wrong - stale - missing") {
  // Slack's documented example.
  const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const std::string body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar"
      "&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
      "%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
  const std::string sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
  CHECK(check_slack_signature(secret, "1531420618", sig, body, 1531420618).empty());
  CHECK(check_slack_signature(secret, "1531420618", sig, body, 1531420618 + 299).empty());
  CHECK(check_slack_signature(secret, "1531420618", sig, body, 1531420618 + 301) == "stale timestamp (more than 5 minutes off)");
  CHECK(check_slack_signature(secret, "1531420618", sig, body + "x", 1531420618) == "signature mismatch");
  CHECK(check_slack_signature("other-secret", "1531420618", sig, body, 1531420618) == "signature mismatch");
  CHECK_FALSE(check_slack_signature(secret, "", sig, body, 1531420618).empty());
  CHECK_FALSE(check_slack_signature(secret, "1531420618", "", body, 1531420618).empty());
  CHECK_FALSE(check_slack_signature(secret, "soon", sig, body, 1531420618).empty());
}

TEST_CASE("slack events: challenge - user message - bot and edits ignored") {
  auto c = parse_slack(R"({"type":"url_verification","challenge":"abc123","token":"t"})");
  CHECK(c.kind == inbound::challenge);
  CHECK(c.detail == "abc123");
  auto m = parse_slack(R"({"type":"event_callback","team_id":"T1","event_id":"Ev1","event":
    {"type":"message","user":"U2","channel":"C3","ts":"1700000000.000100","text":"hello"}})");
  REQUIRE(m.kind == inbound::message);
  CHECK(m.msg.user == "slack.T1.U2");
  CHECK(m.msg.session == "C3.1700000000.000100");
  CHECK(m.msg.event_id == "Ev1");
  CHECK(m.msg.text == "hello");
  CHECK(json::parse(m.msg.target) == json{{"channel", "C3"}, {"thread_ts", "1700000000.000100"}});
  auto threaded = parse_slack(R"({"type":"event_callback","team_id":"T1","event_id":"Ev2","event":
    {"type":"app_mention","user":"U2","channel":"C3","ts":"2.0","thread_ts":"1.0","text":"again"}})");
  REQUIRE(threaded.kind == inbound::message);
  CHECK(json::parse(threaded.msg.target)["thread_ts"] == "1.0");
  CHECK(parse_slack(R"({"type":"event_callback","event_id":"E","event":{"type":"message","bot_id":"B1","user":"U","channel":"C","ts":"1","text":"x"}})").kind == inbound::ignore);
  CHECK(parse_slack(R"({"type":"event_callback","event_id":"E","event":{"type":"message","subtype":"message_changed","channel":"C","ts":"1"}})").kind == inbound::ignore);
  CHECK(parse_slack(R"({"type":"event_callback","event_id":"E","event":{"type":"reaction_added"}})").kind == inbound::ignore);
  CHECK(parse_slack("not json").kind == inbound::invalid);
  CHECK(parse_slack(R"({"type":"event_callback","event":{"type":"message","text":"no ids"}})").kind == inbound::invalid);
  // Odd characters in ids never make an invalid berth user or session.
  auto odd = parse_slack(R"({"type":"event_callback","team_id":"T/1","event_id":"E","event":{"type":"message","user":"U 2","channel":"C3","ts":"1","text":"x"}})");
  CHECK(odd.msg.user == "slack.T_1.U_2");
}

TEST_CASE("telegram updates: text messages - bots - edits - non-text") {
  auto m = parse_telegram(R"({"update_id":42,"message":{"message_id":7,"from":{"id":5,"is_bot":false},
    "chat":{"id":-100123,"type":"group"},"text":"hi"}})");
  REQUIRE(m.kind == inbound::message);
  CHECK(m.msg.event_id == "42");
  CHECK(m.msg.user == "tg.-100123");
  CHECK(m.msg.session == "tg.-100123");
  CHECK(json::parse(m.msg.target) == json{{"chat_id", -100123}, {"reply_to", 7}});
  CHECK(parse_telegram(R"({"update_id":43,"edited_message":{"chat":{"id":1},"text":"x"}})").kind == inbound::ignore);
  CHECK(parse_telegram(R"({"update_id":44,"message":{"from":{"is_bot":true},"chat":{"id":1},"text":"x"}})").kind == inbound::ignore);
  CHECK(parse_telegram(R"({"update_id":45,"message":{"chat":{"id":1},"photo":[]}})").kind == inbound::ignore);
  CHECK(parse_telegram(R"({"update_id":46,"message":{"from":{"is_bot":"yes"},"chat":{"id":1},"text":"x"}})").kind == inbound::invalid);
  CHECK(parse_telegram(R"({"update_id":47,"message":{"chat":{"id":18446744073709551615},"text":"x"}})").kind == inbound::invalid);
  CHECK(parse_telegram(R"({"update_id":48,"message":{"chat":{"id":-1001234567890},"text":"x"}})").msg.user == "tg.-1001234567890");
  CHECK(parse_telegram(R"({"message":{}})").kind == inbound::invalid);
}

TEST_CASE("messages are split under the limit - at spaces - never inside a character") {
  CHECK(split_message("short", 10) == std::vector<std::string>{"short"});
  CHECK(split_message("", 10) == std::vector<std::string>{""});
  auto words = split_message("aaaa bbbb cccc dddd", 10);
  CHECK(words == std::vector<std::string>{"aaaa bbbb ", "cccc dddd"});
  std::string euros;
  for (int i = 0; i < 10; ++i) euros += "\xe2\x82\xac";  // 3 bytes each
  for (const auto& piece : split_message(euros, 8)) {
    CHECK(piece.size() <= 8);
    CHECK(piece.size() % 3 == 0);
  }
  std::string big(10000, 'x');
  std::size_t total = 0;
  for (const auto& piece : split_message(big, 3900)) {
    CHECK(piece.size() <= 3900);
    total += piece.size();
  }
  CHECK(total == big.size());
}

TEST_CASE("callback URLs: parsed strictly and checked against the allow-list") {
  auto u = parse_url("https://Hooks.Example.com/path?q=1");
  REQUIRE(u);
  CHECK(u->host == "hooks.example.com");
  CHECK(u->port == 443);
  CHECK(u->path == "/path?q=1");
  CHECK(parse_url("http://127.0.0.1:8080")->path == "/");
  CHECK_FALSE(parse_url("ftp://x"));
  CHECK_FALSE(parse_url("http://user:pw@host/"));
  CHECK_FALSE(parse_url("http://host:99999/"));
  CHECK_FALSE(parse_url("http://host/a b"));
  CHECK_FALSE(parse_url("http://host/#frag"));

  std::vector<std::string> allow = {"https://hooks.example.com", "http://127.0.0.1:*", "https://*.corp.example:8443"};
  CHECK(check_callback_url("https://hooks.example.com/x", allow).empty());
  CHECK(check_callback_url("http://127.0.0.1:45678/cb", allow).empty());
  CHECK(check_callback_url("https://a.corp.example:8443/", allow).empty());
  CHECK_FALSE(check_callback_url("https://hooks.example.com:444/x", allow).empty());
  CHECK_FALSE(check_callback_url("http://hooks.example.com/x", allow).empty());   // scheme matters
  CHECK_FALSE(check_callback_url("http://169.254.169.254/latest", allow).empty());
  CHECK_FALSE(check_callback_url("http://localhost:3000/", allow).empty());
  CHECK_FALSE(check_callback_url("https://corp.example:8443/", allow).empty());  // *. means subdomains only
  CHECK_FALSE(check_callback_url("https://evilcorp.example:8443/", allow).empty());
  CHECK(check_callback_url("https://hooks.example.com/", {}).find("BERTH_CALLBACK_ALLOW") != std::string::npos);
}

TEST_CASE("callback secrets differ per key and are derivable by the caller") {
  CHECK(callback_secret("key-one-0123456789") != callback_secret("key-two-0123456789"));
  CHECK(callback_secret("key-one-0123456789") == hmac_sha256_hex("key-one-0123456789", "berth-callback-v1"));
  CHECK(key_id("key-one-0123456789").size() == 16);
  CHECK(callback_signature("s", "body") == "sha256=" + hmac_sha256_hex("s", "body"));
}

TEST_CASE("github: comments that mention the bot start runs - bots - other events - no mention") {
  using berth::chat::inbound;
  auto event = [](const std::string& login, const std::string& type, const std::string& text) {
    return nlohmann::json{{"action", "created"},
                          {"issue", {{"number", 12}}},
                          {"comment", {{"body", text}, {"user", {{"login", login}, {"type", type}}}}},
                          {"repository", {{"full_name", "octo/widgets"}}}}
        .dump();
  };
  auto in = berth::chat::parse_github("issue_comment", "d1", event("Alice-1", "User", "Hey @Berth, fix it"), "@berth");
  REQUIRE(in.kind == inbound::message);
  CHECK(in.msg.user == "github.Alice-1");
  CHECK(in.msg.session == "octo/widgets#12");
  CHECK(in.msg.event_id == "d1");
  CHECK(in.msg.text == "[GitHub octo/widgets#12; repository https://github.com/octo/widgets]\n\nHey @Berth, fix it");
  CHECK(nlohmann::json::parse(in.msg.target) == nlohmann::json{{"repo", "octo/widgets"}, {"issue", 12}});
  CHECK(berth::chat::parse_github("issue_comment", "d1", event("dependabot[bot]", "Bot", "@berth"), "@berth").kind == inbound::ignore);
  CHECK(berth::chat::parse_github("issue_comment", "d1", event("renovate", "Bot", "@berth"), "@berth").kind == inbound::ignore);
  CHECK(berth::chat::parse_github("issue_comment", "d1", event("bob", "User", "cc @berthold"), "@berth").kind == inbound::ignore);
  CHECK(berth::chat::parse_github("issue_comment", "d1", event("bob", "User", "email berth@x.org"), "@berth").kind == inbound::ignore);
  CHECK(berth::chat::parse_github("push", "d1", "{}", "@berth").kind == inbound::ignore);
  CHECK(berth::chat::parse_github("issue_comment", "d1", "[1]", "@berth").kind == inbound::invalid);
  CHECK(berth::chat::parse_github("issue_comment", "", event("bob", "User", "@berth"), "@berth").kind == inbound::invalid);
  auto opened = nlohmann::json{{"action", "opened"},
                               {"issue", {{"number", 3}, {"body", "@berth triage"}, {"user", {{"login", "carol"}, {"type", "User"}}}}},
                               {"repository", {{"full_name", "o/r"}}}};
  opened["issue"]["title"] = "Crash on start";
  auto issue = berth::chat::parse_github("issues", "d2", opened.dump(), "@berth");
  REQUIRE(issue.kind == inbound::message);
  CHECK(issue.msg.text.starts_with("[GitHub o/r#3 \"Crash on start\"; repository https://github.com/o/r]\n\n@berth triage"));
  auto review = nlohmann::json{{"action", "created"},
                               {"pull_request", {{"number", 9}}},
                               {"comment", {{"body", "@berth why?"}, {"user", {{"login", "dan"}, {"type", "User"}}}}},
                               {"repository", {{"full_name", "o/r"}}}};
  auto pr = berth::chat::parse_github("pull_request_review_comment", "d3", review.dump(), "@berth");
  REQUIRE(pr.kind == inbound::message);
  CHECK(pr.msg.session == "o/r#9");
  CHECK(berth::chat::mentions("(@berth)", "@berth"));
  CHECK_FALSE(berth::chat::mentions("@berth_bot", "@berth"));
}

TEST_CASE("github: fields of the wrong type are refused or ignored, never thrown") {
  using berth::chat::inbound;
  const auto good = nlohmann::json{{"action", "created"},
                                   {"issue", {{"number", 7}, {"title", "t"}}},
                                   {"comment", {{"body", "@berth hi"}, {"user", {{"login", "alice"}, {"type", "User"}}}}},
                                   {"repository", {{"full_name", "o/r"}}}};
  REQUIRE(berth::chat::parse_github("issue_comment", "d", good.dump(), "@berth").kind == inbound::message);
  auto with = [&](const nlohmann::json::json_pointer& at, nlohmann::json value) {
    auto j = good;
    j[at] = std::move(value);
    return berth::chat::parse_github("issue_comment", "d", j.dump(), "@berth").kind;
  };
  using ptr = nlohmann::json::json_pointer;
  CHECK(with(ptr("/action"), nlohmann::json::object()) == inbound::ignore);  // the fuzzer's crash: action {"numb]r": 7}
  CHECK(with(ptr("/issue/number"), "7") == inbound::invalid);
  CHECK(with(ptr("/issue/number"), 18446744073709551615ull) == inbound::invalid);
  CHECK(with(ptr("/issue/number"), -3) == inbound::invalid);
  CHECK(with(ptr("/repository"), "o/r") == inbound::invalid);
  CHECK(with(ptr("/repository/full_name"), 1) == inbound::invalid);
  CHECK(with(ptr("/comment/user"), "alice") == inbound::invalid);
  CHECK(with(ptr("/comment/user/login"), nlohmann::json::array()) == inbound::invalid);
  CHECK(with(ptr("/comment/user/type"), 1) == inbound::message);
  CHECK(with(ptr("/comment/body"), 5) == inbound::ignore);  // no text, so no mention
  CHECK(with(ptr("/issue/title"), nlohmann::json::object()) == inbound::message);
  CHECK(with(ptr("/issue"), 12) == inbound::invalid);
}
