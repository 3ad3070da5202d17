#include <catch2/catch.hpp>

#include <map>

#include "common/config.hpp"
#include "common/event.hpp"
#include "common/ids.hpp"
#include "common/json_bounded.hpp"
#include "common/strings.hpp"
#include "common/task.hpp"

using namespace berth;

namespace {
env_lookup env_of(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}
}  // namespace

TEST_CASE("config: defaults with just a key") {
  auto c = parse_config(env_of({{"BERTH_API_KEYS", "0123456789abcdef"}}));
  CHECK(c.listen_port == 3000);
  CHECK(c.data_dir == "./data");
  CHECK(c.docker_socket == "/var/run/docker.sock");
  CHECK(c.worker_network == "none");  // the gateway is the only way out
}

TEST_CASE("config: no key - bad values — all reported at once") {
  try {
    parse_config(env_of({{"BERTH_LISTEN", "nonsense"}, {"BERTH_WORKER_MEMORY", "lots"}, {"BERTH_DOCKER_HOST", "tcp://x"}}));
    FAIL("accepted");
  } catch (const config_error& e) {
    CHECK(e.problems.size() == 4);
  }
}

TEST_CASE("config: the gateway on TCP - where it listens and what workers dial") {
  const std::pair<std::string, std::string> key{"BERTH_API_KEYS", "0123456789abcdef"};
  auto c = parse_config(env_of({key, {"BERTH_GATEWAY_LISTEN", "0.0.0.0:8119"}, {"BERTH_GATEWAY_ADVERTISE", "berthd:8119"}}));
  CHECK(c.gateway_listen_host == "0.0.0.0");
  CHECK(c.gateway_listen_port == 8119);
  CHECK(c.gateway_advertise == "berthd:8119");
  CHECK(parse_config(env_of({key})).gateway_listen_host.empty());
  for (const auto& bad : std::vector<std::pair<std::string, std::string>>{
           {"BERTH_GATEWAY_LISTEN", "8119"}, {"BERTH_GATEWAY_ADVERTISE", "berthd:0"}, {"BERTH_GATEWAY_ADVERTISE", "berthd"}}) {
    try {
      parse_config(env_of({key, bad}));
      FAIL("accepted " << bad.first << "=" << bad.second);
    } catch (const config_error& e) {
      REQUIRE(e.problems.size() == 1);
      CHECK(e.problems[0].find(bad.first) != std::string::npos);
    }
  }
}

TEST_CASE("config: the executor - swarm constraints - a cluster executor needs the gateway's advertised address") {
  const std::pair<std::string, std::string> key{"BERTH_API_KEYS", "0123456789abcdef"};
  CHECK(parse_config(env_of({key})).executor == "docker");
  auto c = parse_config(env_of({key, {"BERTH_EXECUTOR", "swarm"}, {"BERTH_GATEWAY_ADVERTISE", "berth:8120"},
                                {"BERTH_SWARM_CONSTRAINTS", " node.labels.berth==worker ;node.role!=manager;"}}));
  CHECK(c.executor == "swarm");
  CHECK(c.swarm_constraints == std::vector<std::string>{"node.labels.berth==worker", "node.role!=manager"});
  CHECK(c.netns_spares == 0);  // namespaces made ahead are the local engine's
  for (const auto& [env, says] : std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{{"BERTH_EXECUTOR", "nomad"}}, "BERTH_EXECUTOR must be docker, swarm or kubernetes"},
           {{{"BERTH_EXECUTOR", "kubernetes"}}, "BERTH_GATEWAY_ADVERTISE"},
           {{{"BERTH_EXECUTOR", "swarm"}, {"BERTH_GATEWAY_ADVERTISE", "b:1"}, {"BERTH_SPARES", "on"}}, "BERTH_SPARES=on"},
           {{{"BERTH_KUBE_API", "kube:6443"}}, "BERTH_KUBE_API"}}) {
    auto e = env;
    e.insert(key);
    try {
      parse_config(env_of(e));
      FAIL("accepted");
    } catch (const config_error& err) {
      REQUIRE(err.problems.size() == 1);
      CHECK(err.problems[0].find(says) != std::string::npos);
    }
  }
}

TEST_CASE("config: values parsed and secrets never described") {
  auto c = parse_config(env_of({{"BERTH_API_KEYS", "0123456789abcdef, fedcba9876543210"},
                                {"BERTH_LISTEN", "127.0.0.1:0"},
                                {"BERTH_WORKER_MEMORY", "512m"},
                                {"BERTH_WORKER_CPUS", "0.5"}}));
  CHECK(c.api_keys.size() == 2);
  CHECK(c.listen_host == "127.0.0.1");
  CHECK(c.listen_port == 0);
  CHECK(c.worker_memory == 512LL << 20);
  for (const auto& [k, v] : describe_config(c)) CHECK(v.find("0123456789abcdef") == std::string::npos);
}

TEST_CASE("config: chat integrations come in verified pairs and secrets are never described") {
  const std::pair<std::string, std::string> key{"BERTH_API_KEYS", "0123456789abcdef"};
  auto problems = [&](std::map<std::string, std::string> env) {
    env.insert(key);
    try {
      parse_config(env_of(env));
      return std::vector<std::string>{};
    } catch (const config_error& e) {
      return e.problems;
    }
  };
  CHECK(problems({{"BERTH_TELEGRAM_BOT_TOKEN", "1:abc"}}).size() == 1);      // a bot token without a secret token
  CHECK(problems({{"BERTH_SLACK_SIGNING_SECRET", "s3cret"}}).size() == 1);   // signing secret without a bot token
  CHECK(problems({{"BERTH_TELEGRAM_BOT_TOKEN", "1:abc"}, {"BERTH_TELEGRAM_SECRET_TOKEN", "has space"}}).size() == 1);
  CHECK(problems({{"BERTH_CALLBACK_ALLOW", "hooks.example.com"}}).size() == 1);  // no scheme
  CHECK(problems({{"BERTH_SLACK_API_BASE", "slack.local"}}).size() == 1);
  auto c = parse_config(env_of({key, {"BERTH_SLACK_SIGNING_SECRET", "slack-signing-s3cret"},
                                {"BERTH_SLACK_BOT_TOKEN", "xoxb-s3cret"}, {"BERTH_TELEGRAM_BOT_TOKEN", "1:tg-s3cret"},
                                {"BERTH_TELEGRAM_SECRET_TOKEN", "tg_secret-token"}, {"BERTH_SLACK_API_BASE", "http://127.0.0.1:9/api/"}}));
  CHECK(c.slack_api_base == "http://127.0.0.1:9/api");  // trailing slash dropped
  for (const auto& [k, v] : describe_config(c)) {
    CHECK(v.find("s3cret") == std::string::npos);
    CHECK(v.find("tg_secret-token") == std::string::npos);
  }
}

TEST_CASE("sizes and lists") {
  CHECK(parse_bytes("1g") == 1LL << 30);
  CHECK(parse_bytes("64k") == 65536);
  CHECK(parse_bytes("12") == 12);
  CHECK_FALSE(parse_bytes("-1"));
  CHECK_FALSE(parse_bytes("1x"));
  CHECK(split_list(" a, ,b ,") == std::vector<std::string>{"a", "b"});
  CHECK(format_time_ms(0) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("run ids sort by time and validate") {
  auto a = make_run_id(1000, 5, 5), b = make_run_id(1001, 0, 0);
  CHECK(a < b);
  CHECK(is_valid_run_id(a));
  CHECK(is_valid_run_id(new_run_id()));
  CHECK_FALSE(is_valid_run_id("short"));
  CHECK_FALSE(is_valid_run_id(std::string(26, 'u')));
}

TEST_CASE("worker events are checked field by field") {
  using nlohmann::json;
  CHECK(check_worker_event(json{{"type", "text"}, {"text", "x"}}).empty());
  CHECK_FALSE(check_worker_event(json{{"type", "text"}}).empty());
  CHECK_FALSE(check_worker_event(json{{"type", "error"}, {"message", "m"}, {"kind", "weird"}}).empty());
  CHECK_FALSE(check_worker_event(json{{"type", "status"}}).empty());
  CHECK(event_data("R", json{{"type", "text"}, {"text", "x"}, {"run", "spoof"}}) == R"({"run":"R","text":"x"})");
}

TEST_CASE("task round trip") {
  task t{"R", "u", "line1\nline2", "echo", "", "", {{"delay_ms", 5}}, "", {{"K", "v"}}};
  auto line = serialize_task(t);
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto back = parse_task(line.substr(0, line.size() - 1));
  CHECK(back.message == t.message);
  CHECK(back.options["delay_ms"] == 5);
  CHECK(back.env.at("K") == "v");
  CHECK_THROWS(parse_task("[]"));
}

TEST_CASE("bounded JSON: depth counted outside strings - over the bound is discarded") {
  using berth::json_too_deep;
  CHECK_FALSE(json_too_deep(R"({"a":[1,{"b":2}]})", 3));
  CHECK(json_too_deep(R"({"a":[1,{"b":2}]})", 2));
  CHECK_FALSE(json_too_deep(R"({"a":"[[[[[[[[[[[[[[[[[[[[[\"[[[[["})", 1));  // brackets inside strings, escaped quote
  CHECK_FALSE(json_too_deep("[]" "[]" "[]" "[]", 1));                       // siblings do not add up
  CHECK(berth::parse_json(std::string(65, '[') + std::string(65, ']')).is_discarded());
  CHECK(berth::parse_json(std::string(64, '[') + std::string(64, ']')).is_array());
  CHECK(berth::parse_json("{nope").is_discarded());
}

TEST_CASE("config: BERTH_API_KEYS entries may be scoped to users - a base64 key keeps its padding") {
  auto c = parse_config(env_of({{"BERTH_API_KEYS", "plainkey0123456789, scopedkey0123456789=alice|team-*, b64key0123456789abc=="}}));
  REQUIRE(c.api_keys.size() == 3);
  CHECK(c.api_keys[1] == "scopedkey0123456789");
  CHECK(c.key_users.at("scopedkey0123456789") == std::vector<std::string>{"alice", "team-*"});
  CHECK(c.api_keys[2] == "b64key0123456789abc==");
  CHECK(c.key_users.count("b64key0123456789abc==") == 0);
  CHECK_THROWS_AS(parse_config(env_of({{"BERTH_API_KEYS", "scopedkey0123456789=al*ce"}})), config_error);
}
