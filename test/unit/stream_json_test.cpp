// The stream-json → event translation, on real output of Claude Code 2.1.197 (test/data/claude/).
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "common/event.hpp"
#include "worker/claude_command.hpp"
#include "worker/stream_json.hpp"

using nlohmann::json;
using berth::worker::stream_translator;

namespace {
struct replay {
  std::vector<json> events;
  std::vector<std::string> diagnostics;
  bool stopped = false;
  std::size_t lines_fed = 0;
};

// Feeds a recorded file line by line, as the engine does, stopping where the engine would kill the CLI.
replay feed_file(const std::string& name, stream_translator& tr) {
  std::ifstream in(std::string(BERTH_SOURCE_DIR) + "/test/data/claude/" + name);
  REQUIRE(in.good());
  replay r;
  std::string line;
  while (!r.stopped && std::getline(in, line)) {
    ++r.lines_fed;
    auto t = tr.feed(line);
    r.events.insert(r.events.end(), t.events.begin(), t.events.end());
    r.diagnostics.insert(r.diagnostics.end(), t.diagnostics.begin(), t.diagnostics.end());
    r.stopped = t.stop_now;
  }
  return r;
}

std::vector<json> of_type(const std::vector<json>& evs, const std::string& type) {
  std::vector<json> out;
  for (const auto& e : evs)
    if (e["type"] == type) out.push_back(e);
  return out;
}

void all_valid(const std::vector<json>& evs) {
  for (const auto& e : evs) {
    INFO(e.dump());
    CHECK(berth::check_worker_event(e).empty());
  }
}
}  // namespace

TEST_CASE("stream-json: a field of the wrong type is a diagnostic - never an exception") {
  berth::worker::stream_translator t;
  auto out = t.feed(R"({"type":"result","subtype":"success","is_error":"success","result":"x"})");
  CHECK(out.events.empty());
  REQUIRE(out.diagnostics.size() == 1);
  CHECK(out.diagnostics[0].find("cannot read") != std::string::npos);
  CHECK(t.feed(R"({"type":"system","subtype":"api_retry","retry_delay_ms":"soon"})").events.empty());
}

TEST_CASE("stream-json: partial messages become one text event per delta and the assistant line adds none") {
  stream_translator tr;
  auto r = feed_file("text_partial.jsonl", tr);
  all_valid(r.events);
  auto texts = of_type(r.events, "text");
  REQUIRE(texts.size() == 12);
  std::string spelled;
  for (const auto& t : texts) spelled += t["text"].get<std::string>();
  CHECK(spelled.find("word1 ") == 0);
  CHECK(spelled.find("word12") != std::string::npos);
  auto results = of_type(r.events, "result");
  REQUIRE(results.size() == 1);
  CHECK(results[0]["is_error"] == false);
  CHECK(results[0]["turns"] == 1);
  CHECK(results[0]["cost_usd"].is_number());
  CHECK(results[0]["usage"]["output_tokens"].is_number());
  CHECK(r.events.back()["type"] == "result");
  CHECK(of_type(r.events, "error").empty());
  CHECK(tr.saw_result());
  CHECK_FALSE(tr.failed());
  CHECK(tr.session_id().size() == 36);
}

TEST_CASE("stream-json: a Bash call is a tool_use with the whole input then a tool_result") {
  stream_translator tr;
  auto r = feed_file("bash_tool.jsonl", tr);
  all_valid(r.events);
  auto uses = of_type(r.events, "tool_use");
  REQUIRE(uses.size() == 1);
  CHECK(uses[0]["name"] == "Bash");
  CHECK(uses[0]["input"]["command"] == "echo hi > note.txt && cat note.txt");
  auto results = of_type(r.events, "tool_result");
  REQUIRE(results.size() == 1);
  CHECK(results[0]["id"] == uses[0]["id"]);
  CHECK(results[0]["output"] == "hi");
  CHECK(results[0]["is_error"] == false);
  // order: the call, then its result, then the final text and result
  std::vector<std::string> order;
  for (const auto& e : r.events)
    if (order.empty() || order.back() != e["type"]) order.push_back(e["type"]);
  CHECK(order == std::vector<std::string>{"text", "tool_use", "tool_result", "text", "result"});
  CHECK(of_type(r.events, "result")[0]["turns"] == 2);
}

TEST_CASE("stream-json: a denied tool is an error tool_result and the run still succeeds") {
  stream_translator tr;
  auto r = feed_file("bash_denied.jsonl", tr);
  auto results = of_type(r.events, "tool_result");
  REQUIRE(results.size() == 1);
  CHECK(results[0]["is_error"] == true);
  CHECK(of_type(r.events, "result")[0]["permission_denials"] == 1);
  CHECK_FALSE(tr.failed());
}

TEST_CASE("stream-json: the turn limit fails the run as an engine error") {
  stream_translator tr;
  auto r = feed_file("max_turns.jsonl", tr);
  auto errors = of_type(r.events, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0]["kind"] == "engine");
  CHECK(errors[0]["message"].get<std::string>().find("turn limit") != std::string::npos);
  CHECK(of_type(r.events, "result")[0]["is_error"] == true);
  CHECK(tr.failed());
}

TEST_CASE("stream-json: the run's spending limit fails the run as an engine error naming it") {
  stream_translator tr;
  auto out = tr.feed(R"({"type":"result","subtype":"error_max_budget_usd","is_error":true,"num_turns":2,"total_cost_usd":0.0123,"result":""})");
  auto errors = of_type(out.events, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0]["kind"] == "engine");
  CHECK(errors[0]["message"].get<std::string>().find("options.max_budget_usd") != std::string::npos);
  CHECK(tr.failed());
}

TEST_CASE("stream-json: the first 401 retry stops the CLI with an auth error") {
  for (const char* file : {"auth_401.jsonl", "auth_401_full.jsonl"}) {
    INFO(file);
    stream_translator tr;
    auto r = feed_file(file, tr);
    CHECK(r.stopped);
    CHECK(r.lines_fed == 3);  // init, status, the first api_retry
    auto errors = of_type(r.events, "error");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0]["kind"] == "auth");
    CHECK(errors[0]["message"].get<std::string>().find("401") != std::string::npos);
    all_valid(r.events);
  }
}

TEST_CASE("stream-json: a 403 result is an auth failure") {
  stream_translator tr;
  auto r = feed_file("forbidden_403.jsonl", tr);
  auto errors = of_type(r.events, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0]["kind"] == "auth");
  CHECK(errors[0]["message"].get<std::string>().find("403") != std::string::npos);
  CHECK(of_type(r.events, "text").empty());  // the synthetic assistant notice is not agent text
}

TEST_CASE("stream-json: transient 429 and 529 are retried and logged - exhausted retries fail as api") {
  for (const char* file : {"rate_limit_429_transient.jsonl", "overloaded_529_transient.jsonl"}) {
    INFO(file);
    stream_translator tr;
    auto r = feed_file(file, tr);
    CHECK_FALSE(r.stopped);
    CHECK_FALSE(tr.failed());
    CHECK(of_type(r.events, "text").size() >= 1);
    bool logged = false;
    for (const auto& d : r.diagnostics) logged |= d.find("retry 1 of 10") != std::string::npos;
    CHECK(logged);
  }
  stream_translator tr;
  auto r = feed_file("overloaded_529_exhausted.jsonl", tr);
  CHECK_FALSE(r.stopped);
  auto errors = of_type(r.events, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0]["kind"] == "api");
  CHECK(errors[0]["message"].get<std::string>().find("529") != std::string::npos);
}

TEST_CASE("stream-json: an unknown session is an engine error naming it") {
  stream_translator tr;
  auto r = feed_file("resume_unknown.jsonl", tr);
  auto errors = of_type(r.events, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0]["kind"] == "engine");
  CHECK(errors[0]["message"].get<std::string>().find("No conversation found") != std::string::npos);
}

TEST_CASE("stream-json: garbage lines become diagnostics and change nothing") {
  stream_translator tr;
  for (const char* line : {"not json at all", "[1,2,3]", "{\"type\":\"nonsense\"}", "{\"type\":\"assistant\"}",
                           "{\"type\":\"user\",\"message\":{\"content\":\"plain\"}}", "", "\xff\xfe{"}) {
    auto t = tr.feed(line);
    CHECK(t.events.empty());
    CHECK_FALSE(t.stop_now);
  }
  CHECK(tr.feed("not json").diagnostics.size() == 1);
  CHECK_FALSE(tr.saw_result());
}

TEST_CASE("stream-json: without partial messages the assistant line carries the text once") {
  stream_translator tr;
  auto t = tr.feed(R"({"type":"assistant","message":{"id":"m1","model":"x","content":[{"type":"text","text":"whole reply"}]}})");
  REQUIRE(t.events.size() == 1);
  CHECK(t.events[0]["text"] == "whole reply");
}

TEST_CASE("stream-json: tool output is bounded on a UTF-8 boundary") {
  std::string big = "é" + std::string(100, 'a');
  auto out = berth::worker::tool_output_text(json(big), 10);
  CHECK(out.rfind("éaaaaaaaa", 0) == 0);
  CHECK(out.find("truncated, 92 more bytes") != std::string::npos);
  CHECK(berth::worker::tool_output_text(json::parse(R"([{"type":"text","text":"a"},{"type":"image"}])"), 100) ==
        "a\n[image]");
  auto cut = berth::worker::tool_output_text(json("ééé"), 3);  // 2 bytes each: cut before the second
  CHECK(cut.rfind("é\n", 0) == 0);
}

TEST_CASE("claude command: message never on argv - options map to flags - credentials only in env") {
  berth::task t;
  t.message = "secret plans";
  t.model = "claude-sonnet-4-5";
  t.options = {{"permission_mode", "bypassPermissions"}, {"allowed_tools", {"Bash", "Read"}}, {"max_turns", 8},
               {"max_retries", 4}, {"max_budget_usd", 0.25}, {"disallowed_tools", {"WebFetch", "Bash(rm *)"}}};
  t.env = {{"ANTHROPIC_API_KEY", "sk-live"}};
  t.session_id = "3f2fcc68-1e4b-4dc8-95e0-616273b8b009";
  berth::worker::claude_paths p;
  auto fresh = berth::worker::build_claude_command(t, p, false, {"PATH=/usr/bin", "ANTHROPIC_API_KEY=stale", "HOME=/h"});
  std::string argv;
  for (const auto& a : fresh.argv) argv += a + " ";
  CHECK(argv.find("secret") == std::string::npos);
  CHECK(argv.find("sk-live") == std::string::npos);
  CHECK(argv.find("--model claude-sonnet-4-5 ") != std::string::npos);
  CHECK(argv.find("--permission-mode bypassPermissions ") != std::string::npos);
  CHECK(argv.find("--allowedTools Bash,Read ") != std::string::npos);
  CHECK(argv.find("--max-turns 8 ") != std::string::npos);
  CHECK(argv.find("--max-budget-usd 0.250000 ") != std::string::npos);
  CHECK(argv.find("--disallowedTools WebFetch,Bash(rm *) ") != std::string::npos);
  CHECK(argv.find("--session-id 3f2fcc68-1e4b-4dc8-95e0-616273b8b009 ") != std::string::npos);
  CHECK(argv.find("--include-partial-messages") != std::string::npos);
  auto has_env = [&](const std::string& kv) {
    return std::find(fresh.env.begin(), fresh.env.end(), kv) != fresh.env.end();
  };
  CHECK(has_env("ANTHROPIC_API_KEY=sk-live"));
  CHECK_FALSE(has_env("ANTHROPIC_API_KEY=stale"));
  CHECK(has_env("PATH=/usr/bin"));
  CHECK(has_env("DISABLE_TELEMETRY=1"));
  CHECK(has_env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"));
  CHECK(has_env("CLAUDE_CODE_MAX_RETRIES=4"));
  CHECK(has_env("CLAUDE_CONFIG_DIR=/workspace/.berth/claude"));

  auto again = berth::worker::build_claude_command(t, p, true, {});
  std::string argv2;
  for (const auto& a : again.argv) argv2 += a + " ";
  CHECK(argv2.find("--resume 3f2fcc68-1e4b-4dc8-95e0-616273b8b009 ") != std::string::npos);
  CHECK(berth::worker::session_transcript(p, t.session_id) ==
        "/workspace/.berth/claude/projects/-workspace/3f2fcc68-1e4b-4dc8-95e0-616273b8b009.jsonl");
}

TEST_CASE("warm cli: a prepared command serves a task only when all but the API key matches - the difference is named") {
  berth::task t;
  t.model = "claude-sonnet-4-5";
  t.session_id = "3f2fcc68-1e4b-4dc8-95e0-616273b8b009";
  t.env = {{"ANTHROPIC_API_KEY", "berth-spare-1"}, {"ANTHROPIC_BASE_URL", "http://127.0.0.1:8119"}};
  berth::worker::claude_paths p;
  using berth::worker::build_claude_command;
  using berth::worker::warm_mismatch;
  const auto prepared = build_claude_command(t, p, true, {"PATH=/usr/bin"}, true);
  std::string argv;
  for (const auto& a : prepared.argv) argv += a + " ";
  CHECK(argv.find("--input-format stream-json ") != std::string::npos);
  auto run = t;
  run.env["ANTHROPIC_API_KEY"] = "run-token";  // the run's token: the relay names it, the CLI keeps the spare's key
  CHECK(warm_mismatch(prepared, build_claude_command(run, p, true, {"PATH=/usr/bin"}, true)).empty());
  CHECK(warm_mismatch(prepared, build_claude_command(run, p, false, {"PATH=/usr/bin"}, true)) == "--session-id");
  auto other_model = run;
  other_model.model = "claude-opus-4";
  CHECK(warm_mismatch(prepared, build_claude_command(other_model, p, true, {"PATH=/usr/bin"}, true)) == "--model");
  auto turns = run;
  turns.options["max_turns"] = 3;
  CHECK(warm_mismatch(prepared, build_claude_command(turns, p, true, {"PATH=/usr/bin"}, true)) == "--max-turns");
  auto git = run;
  git.env["GIT_CONFIG_COUNT"] = "1";
  CHECK(warm_mismatch(prepared, build_claude_command(git, p, true, {"PATH=/usr/bin"}, true)) == "environment GIT_CONFIG_COUNT");
  auto oauth = run;
  oauth.env.erase("ANTHROPIC_API_KEY");
  oauth.env["CLAUDE_CODE_OAUTH_TOKEN"] = "run-token";
  CHECK(warm_mismatch(prepared, build_claude_command(oauth, p, true, {"PATH=/usr/bin"}, true)) == "environment CLAUDE_CODE_OAUTH_TOKEN");
  CHECK(nlohmann::json::parse(berth::worker::stream_json_user_line("hi \"there\"\n")) ==
        nlohmann::json{{"type", "user"}, {"message", {{"role", "user"}, {"content", "hi \"there\"\n"}}}});
  CHECK(berth::worker::stream_json_user_line("x").back() == '\n');
  berth::task spare;
  spare.prepare = true;
  spare.engine = "claude";
  CHECK(berth::parse_task(berth::serialize_task(spare)).prepare);
  CHECK_FALSE(berth::parse_task(berth::serialize_task(t)).prepare);
  CHECK_THROWS(berth::parse_task(R"({"prepare": "yes"})"));
}
