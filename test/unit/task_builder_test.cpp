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

TEST_CASE("the claude task carries config defaults - capped options - the run's token, never the credential") {
  config c;
  c.anthropic_api_key = "sk-secret-value";
  c.anthropic_base_url = "http://127.0.0.1:9";
  c.claude_max_turns = 10;
  c.claude_model = "claude-x";
  c.gateway_relay_port = 8200;
  auto t = runs::build_task(c, run_of("claude", R"({"max_turns": 500, "permission_mode": "plan"})"), "brt-token");
  CHECK(t.env.at("ANTHROPIC_API_KEY") == "brt-token");
  CHECK(t.env.at("ANTHROPIC_BASE_URL") == "http://127.0.0.1:8200");
  CHECK(t.env.at("HTTPS_PROXY") == "http://127.0.0.1:8200");
  CHECK(t.env.at("http_proxy") == "http://127.0.0.1:8200");
  CHECK(t.env.at("NO_PROXY") == "127.0.0.1,localhost");
  CHECK(t.relay.port == 8200);
  CHECK(t.relay.token == "brt-token");
  CHECK(t.relay.socket == "/run/berth/gateway.sock");
  CHECK(serialize_task(t).find("sk-secret-value") == std::string::npos);
  c.gateway_advertise = "berthd:8119";  // workers on a cluster network dial the gateway's TCP listener
  CHECK(runs::build_task(c, run_of("claude"), "brt-token").relay.socket == "tcp:berthd:8119");
  c.gateway_advertise.clear();
  c.anthropic_api_key.clear();
  c.claude_oauth_token = "oauth-secret";
  auto o = runs::build_task(c, run_of("claude"), "brt-token");
  CHECK(o.env.at("CLAUDE_CODE_OAUTH_TOKEN") == "brt-token");
  CHECK_FALSE(o.env.contains("ANTHROPIC_API_KEY"));
  CHECK(serialize_task(o).find("oauth-secret") == std::string::npos);
  CHECK(t.options["max_turns"] == 10);
  CHECK(t.options["permission_mode"] == "plan");
  CHECK(t.model == "claude-x");
  CHECK(t.session_id == runs::session_uuid("alice", "thread-1"));

  auto e = runs::build_task(c, run_of("echo"), "brt-token");
  CHECK(e.env.empty());
  CHECK(e.relay.port == 8200);  // every engine gets the relay; only claude uses it today
  CHECK(e.session_id.empty());
  CHECK_FALSE(e.options.contains("max_turns"));
}

TEST_CASE("a request narrows the operator's tool policy - never widens it") {
  config c;
  c.anthropic_api_key = "sk-secret-value";
  c.claude_permission_mode = "default";
  c.claude_allowed_tools = {"Read", "Bash"};
  auto wide = runs::build_task(c, run_of("claude", R"({"permission_mode": "bypassPermissions", "allowed_tools": ["Write", "WebFetch"]})"), "t");
  CHECK(wide.options["permission_mode"] == "default");
  CHECK(wide.options["allowed_tools"] == nlohmann::json({"Read", "Bash"}));
  auto narrow = runs::build_task(c, run_of("claude", R"j({"permission_mode": "plan", "allowed_tools": ["Read", "Bash(git *)", "Write"]})j"), "t");
  CHECK(narrow.options["permission_mode"] == "plan");
  CHECK(narrow.options["allowed_tools"] == nlohmann::json({"Read", "Bash(git *)"}));
  c.claude_allowed_tools.clear();  // the operator allows every tool: the request's list narrows that
  auto any = runs::build_task(c, run_of("claude", R"({"allowed_tools": ["Read"]})"), "t");
  CHECK(any.options["allowed_tools"] == nlohmann::json({"Read"}));
  CHECK_FALSE(runs::build_task(c, run_of("claude"), "t").options.contains("allowed_tools"));
}

TEST_CASE("a run GitHub started sends git's github.com URLs to the gateway - others do not - no token in the task") {
  config c;
  c.anthropic_api_key = "sk-secret-value";
  c.gateway_relay_port = 8200;
  c.github_token = "ghp_secret";
  auto r = run_of("claude");
  r.trigger = "github:octo/widgets#7";
  auto t = runs::build_task(c, r, "brt-token");
  CHECK(t.env.at("GIT_CONFIG_COUNT") == "1");
  CHECK(t.env.at("GIT_CONFIG_KEY_0") == "url.http://127.0.0.1:8200/git/github.com/.insteadOf");
  CHECK(t.env.at("GIT_CONFIG_VALUE_0") == "https://github.com/");
  CHECK(serialize_task(t).find("ghp_secret") == std::string::npos);
  CHECK_FALSE(runs::build_task(c, run_of("claude"), "brt-token").env.contains("GIT_CONFIG_COUNT"));
  c.github_token.clear();  // no token: no repository access to offer
  CHECK_FALSE(runs::build_task(c, r, "brt-token").env.contains("GIT_CONFIG_COUNT"));
}

TEST_CASE("tool policy: operator - user - request each narrow - denials add up") {
  config c;
  c.anthropic_api_key = "sk";
  c.claude_permission_mode = "acceptEdits";
  c.claude_allowed_tools = {"Read", "Bash", "Write"};
  const nlohmann::json user = {{"allowed_tools", {"Read", "Bash", "WebFetch"}}, {"disallowed_tools", {"Bash(rm *)"}}, {"permission_mode", "default"}};
  auto t = runs::build_task(c, run_of("claude", R"j({"allowed_tools": ["Bash", "Write"], "disallowed_tools": ["Bash(curl *)"], "permission_mode": "acceptEdits"})j"), "t", user);
  CHECK(t.options["allowed_tools"] == nlohmann::json({"Bash"}));           // Write: the user's policy has none of it
  CHECK(t.options["permission_mode"] == "default");                        // the request cannot widen the user's
  CHECK(t.options["disallowed_tools"] == nlohmann::json({"Bash(rm *)", "Bash(curl *)"}));
  auto only_user = runs::build_task(c, run_of("claude"), "t", user);
  CHECK(only_user.options["allowed_tools"] == nlohmann::json({"Read", "Bash"}));  // WebFetch: the operator's has none
  CHECK(only_user.options["disallowed_tools"] == nlohmann::json({"Bash(rm *)"}));
  auto none = runs::build_task(c, run_of("claude"), "t");
  CHECK(none.options["allowed_tools"] == nlohmann::json({"Read", "Bash", "Write"}));
  CHECK_FALSE(none.options.contains("disallowed_tools"));
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
