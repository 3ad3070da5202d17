#include <catch2/catch.hpp>

#include "server/docker/tar.hpp"
#include "server/runs/task_builder.hpp"

using namespace berth;

namespace {
store::run_record run_of(const std::string& engine, const std::string& options = "{}") {
  store::run_record r;
  r.id = "R";
  r.user = "alice";
  r.engine = engine;
  r.session = "thread-1";
  r.message = "hi";
  r.options = options;
  return r;
}
}  // namespace

TEST_CASE("session ids are stable UUIDs - distinct per user and per session") {
  auto a = runs::session_uuid("alice", "s1");
  CHECK(a == runs::session_uuid("alice", "s1"));
  CHECK(a != runs::session_uuid("bob", "s1"));
  CHECK(a != runs::session_uuid("alice", "s2"));
  REQUIRE(a.size() == 36);
  CHECK(a[8] == '-');
  CHECK(a[14] == '5');
}

TEST_CASE("the claude task carries config defaults - capped options and credentials - echo carries none") {
  config c;
  c.anthropic_api_key = "sk-secret-value";
  c.anthropic_base_url = "http://127.0.0.1:9";
  c.claude_max_turns = 10;
  c.claude_model = "claude-x";
  auto t = runs::build_task(c, run_of("claude", R"({"max_turns": 500, "permission_mode": "plan"})"));
  CHECK(t.env.at("ANTHROPIC_API_KEY") == "sk-secret-value");
  CHECK(t.env.at("ANTHROPIC_BASE_URL") == "http://127.0.0.1:9");
  CHECK(t.options["max_turns"] == 10);
  CHECK(t.options["permission_mode"] == "plan");
  CHECK(t.model == "claude-x");
  CHECK(t.session_id == runs::session_uuid("alice", "thread-1"));

  auto e = runs::build_task(c, run_of("echo"));
  CHECK(e.env.empty());
  CHECK(e.session_id.empty());
  CHECK_FALSE(e.options.contains("max_turns"));
}

TEST_CASE("a request narrows the operator's tool policy - never widens it") {
  config c;
  c.anthropic_api_key = "sk-secret-value";
  c.claude_permission_mode = "default";
  c.claude_allowed_tools = {"Read", "Bash"};
  auto wide = runs::build_task(c, run_of("claude", R"({"permission_mode": "bypassPermissions", "allowed_tools": ["Write", "WebFetch"]})"));
  CHECK(wide.options["permission_mode"] == "default");
  CHECK(wide.options["allowed_tools"] == nlohmann::json({"Read", "Bash"}));
  auto narrow = runs::build_task(c, run_of("claude", R"j({"permission_mode": "plan", "allowed_tools": ["Read", "Bash(git *)", "Write"]})j"));
  CHECK(narrow.options["permission_mode"] == "plan");
  CHECK(narrow.options["allowed_tools"] == nlohmann::json({"Read", "Bash(git *)"}));
  c.claude_allowed_tools.clear();  // the operator allows every tool: the request's list narrows that
  auto any = runs::build_task(c, run_of("claude", R"({"allowed_tools": ["Read"]})"));
  CHECK(any.options["allowed_tools"] == nlohmann::json({"Read"}));
  CHECK_FALSE(runs::build_task(c, run_of("claude")).options.contains("allowed_tools"));
}

TEST_CASE("missing credentials are named") {
  config c;
  CHECK(runs::missing_credentials(c, "claude").find("ANTHROPIC_API_KEY") != std::string::npos);
  CHECK(runs::missing_credentials(c, "echo").empty());
  c.claude_oauth_token = "t";
  CHECK(runs::missing_credentials(c, "claude").empty());
}

TEST_CASE("a one-file tar has a valid ustar header - the content - and padding") {
  std::string content = "be kind\n";
  auto tar = docker::tar_single_file("CLAUDE.md", content, 0444);
  REQUIRE(tar.size() == 512 + 512 + 1024);
  CHECK(tar.substr(0, 9) == "CLAUDE.md");
  CHECK(tar.substr(257, 5) == "ustar");
  CHECK(std::stoul(tar.substr(124, 11), nullptr, 8) == content.size());
  CHECK(std::stoul(tar.substr(100, 7), nullptr, 8) == 0444);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(tar[static_cast<std::size_t>(i)]);
  CHECK(std::stoul(tar.substr(148, 6), nullptr, 8) == sum);
  CHECK(tar.substr(512, content.size()) == content);
}
