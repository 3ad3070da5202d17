// The real Claude Code CLI in the real worker container, driven through berthd, against the fake Messages
// API (the only fake). Workers run on their default network (none): every model request goes through
// berthd's credential gateway, which alone holds the key and reaches the fake on 127.0.0.1.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <set>
#include <random>
#include <sstream>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "fake_chat.hpp"
#include "common/strings.hpp"
#include "server/chat/signing.hpp"
#include "server/runs/budgets.hpp"
#include "docker_helpers.hpp"
#include "fake_anthropic.hpp"
#include "gateway_helpers.hpp"
#include "run_helpers.hpp"

using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
const std::string secret = "sk-ant-test-SECRET-6f1c2b9e4d";

std::string unique(const std::string& base) {
  static std::mt19937 rng{std::random_device{}()};
  return base + "-" + std::to_string(rng() % 1000000);
}

// Users of one test; their workspace and instructions volumes are removed afterwards.
struct users {
  std::vector<std::string> names;
  std::string add(const std::string& base) { return names.emplace_back(unique(base)); }
  // berthd removes a finished run's container just after its `done`; a volume in use waits for that.
  ~users() {
    for (const auto& u : names) remove_user_volumes(u);
  }
};

struct claude_env {
  explicit claude_env(std::string egress_allow = "") : egress(std::move(egress_allow)) {}
  std::string egress;
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", secret}}};
  berthd_process d = berthd_process({{"BERTH_ENGINES", "claude,echo"},
                                     {"BERTH_DEFAULT_ENGINE", "claude"},
                                     {"BERTH_EGRESS_ALLOW", egress},
                                     {"BERTH_SCHEDULE_MIN_INTERVAL_S", "1"},
                                     {"ANTHROPIC_API_KEY", secret},
                                     {"ANTHROPIC_BASE_URL", fake.base_url()}});
  api_client api{d.port(), test_key};
};

std::string reversed(std::string s) { return {s.rbegin(), s.rend()}; }

json tool_result_of(const std::vector<sse_event>& evs) {
  for (const auto& e : evs)
    if (e.type == "tool_result") return e.json();
  return nullptr;
}

std::string all_user_text(const json& request) {
  std::string out;
  for (const auto& m : request["body"]["messages"]) {
    if (m.value("role", "") != "user") continue;
    if (m["content"].is_string()) out += m["content"].get<std::string>() + "\n";
    else
      for (const auto& b : m["content"])
        if (b.value("type", "") == "text") out += b.value("text", "") + "\n";
  }
  return out;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("claude: text streams as several events before done", "[integration][claude]") {
  claude_env env;
  users u;
  auto user = u.add("stream");
  auto live = env.api.stream("POST", "/api/v1/runs", json{{"user", user}, {"message", "@@text:12 @@delay:120"}}.dump());
  REQUIRE(!live.events.empty());
  std::vector<sse_event> texts;
  for (const auto& e : live.events)
    if (e.type == "text") texts.push_back(e);
  REQUIRE(texts.size() >= 6);
  CHECK(spelled(live.events).find("word12") != std::string::npos);
  REQUIRE(live.events.back().type == "done");
  CHECK(live.events.back().json()["status"] == "succeeded");
  CHECK(live.events.back().at - texts.front().at > 500ms);
  CHECK(count_type(live.events, "started") == 1);
  CHECK(count_type(live.events, "result") == 1);
}

TEST_CASE("claude: a Bash tool runs in /workspace - files persist per user and stay private", "[integration][claude]") {
  claude_env env;
  users u;
  auto alice = u.add("alice"), bob = u.add("bob");
  auto first = env.api.start_run({{"user", alice}, {"message", "@@bash:echo hi-from-alice > note.txt && cat note.txt && pwd"}});
  REQUIRE(env.api.wait_done(first)["status"] == "succeeded");
  auto evs = stored_events(env.api, first);
  bool saw_bash = false;
  for (const auto& e : evs)
    if (e.type == "tool_use" && e.json()["name"] == "Bash") saw_bash = e.json()["input"]["command"].get<std::string>().find("note.txt") != std::string::npos;
  CHECK(saw_bash);
  auto result = tool_result_of(evs);
  REQUIRE(result.is_object());
  CHECK(result["output"].get<std::string>().find("hi-from-alice") != std::string::npos);
  CHECK(result["output"].get<std::string>().find("/workspace") != std::string::npos);

  auto again = env.api.start_run({{"user", alice}, {"message", "@@bash:cat note.txt"}});
  REQUIRE(env.api.wait_done(again)["status"] == "succeeded");
  CHECK(tool_result_of(stored_events(env.api, again))["output"].get<std::string>().find("hi-from-alice") != std::string::npos);

  auto other = env.api.start_run({{"user", bob}, {"message", "@@bash:cat note.txt"}});
  env.api.wait_done(other);
  auto theirs = tool_result_of(stored_events(env.api, other));
  REQUIRE(theirs.is_object());
  CHECK(theirs["output"].get<std::string>().find("hi-from-alice") == std::string::npos);
}

TEST_CASE("claude: a session resumes the conversation - without it a run starts fresh", "[integration][claude]") {
  claude_env env;
  users u;
  auto user = u.add("sess");
  auto first = env.api.start_run({{"user", user}, {"session", "thread-1"}, {"message", "remember the word pineapple"}});
  REQUIRE(env.api.wait_done(first)["status"] == "succeeded");
  auto second = env.api.start_run({{"user", user}, {"session", "thread-1"}, {"message", "@@recall"}});
  REQUIRE(env.api.wait_done(second)["status"] == "succeeded");
  auto reqs = env.fake.message_requests();
  REQUIRE(!reqs.empty());
  CHECK(all_user_text(reqs.back()).find("pineapple") != std::string::npos);

  auto fresh = env.api.start_run({{"user", user}, {"message", "@@recall"}});
  REQUIRE(env.api.wait_done(fresh)["status"] == "succeeded");
  CHECK(all_user_text(env.fake.message_requests().back()).find("pineapple") == std::string::npos);

  auto sessions = env.api.get("/api/v1/sessions?user=" + user);
  REQUIRE(sessions.status == 200);
  REQUIRE(sessions.json()["sessions"].size() == 1);
  CHECK(sessions.json()["sessions"][0]["session"] == "thread-1");
  CHECK(sessions.json()["sessions"][0]["runs"].size() == 2);
}

TEST_CASE("claude: per-user instructions reach the agent as CLAUDE.md", "[integration][claude]") {
  claude_env env;
  users u;
  auto user = u.add("instr");
  auto put = env.api.put("/api/v1/users/" + user + "/instructions", json{{"instructions", "Answer like a pirate. MARKER-7731"}}.dump());
  REQUIRE(put.status == 200);
  CHECK(env.api.get("/api/v1/users/" + user + "/instructions").json()["instructions"] == "Answer like a pirate. MARKER-7731");
  auto id = env.api.start_run({{"user", user}, {"message", "@@bash:cat CLAUDE.md; echo tamper >> CLAUDE.md"}});
  env.api.wait_done(id);
  auto reqs = env.fake.message_requests();
  REQUIRE(!reqs.empty());
  CHECK(reqs.front()["body"].dump().find("MARKER-7731") != std::string::npos);
  auto result = tool_result_of(stored_events(env.api, id));
  REQUIRE(result.is_object());
  CHECK(result["output"].get<std::string>().find("MARKER-7731") != std::string::npos);
  INFO(result.dump());
  // The instructions file is root's, mode 0444, on a read-only mount: whichever check the shell meets first.
  auto out = result["output"].get<std::string>();
  CHECK((out.find("Permission denied") != std::string::npos || out.find("Read-only file system") != std::string::npos));

  // Replacing the link with a file of its own lasts one run: the next run links the user's instructions again.
  auto replace = env.api.start_run({{"user", user}, {"message", "@@bash:rm -f CLAUDE.md && echo mine > CLAUDE.md"}});
  REQUIRE(env.api.wait_done(replace)["status"] == "succeeded");
  auto check = env.api.start_run({{"user", user}, {"message", "@@bash:cat CLAUDE.md"}});
  REQUIRE(env.api.wait_done(check)["status"] == "succeeded");
  auto now = tool_result_of(stored_events(env.api, check))["output"].get<std::string>();
  CHECK(now.find("MARKER-7731") != std::string::npos);
  CHECK(now.find("tamper") == std::string::npos);
  CHECK(now.find("mine") == std::string::npos);
}

TEST_CASE("claude: a 401 ends the run failed with reason auth within seconds", "[integration][claude]") {
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", secret}}};
  berthd_process d({{"BERTH_ENGINES", "claude"}, {"BERTH_DEFAULT_ENGINE", "claude"},
                    {"ANTHROPIC_API_KEY", "sk-ant-wrong-key-000000"}, {"ANTHROPIC_BASE_URL", fake.base_url()}});
  api_client api(d.port(), test_key);
  users u;
  auto t0 = std::chrono::steady_clock::now();
  auto done = api.wait_done(api.start_run({{"user", u.add("denied")}, {"message", "hello"}}));
  CHECK(std::chrono::steady_clock::now() - t0 < 20s);
  CHECK(done["status"] == "failed");
  CHECK(done["reason"].get<std::string>().rfind("auth", 0) == 0);
}

TEST_CASE("claude: missing credentials are refused before any container starts", "[integration][claude]") {
  berthd_process d({{"BERTH_ENGINES", "claude,echo"}, {"BERTH_DEFAULT_ENGINE", "claude"}});
  api_client api(d.port(), test_key);
  auto r = api.post("/api/v1/runs", json{{"user", "u"}, {"message", "hi"}}.dump());
  CHECK(r.status == 503);
  CHECK(r.json()["error"]["code"] == "credentials_missing");
  CHECK(r.json()["error"]["message"].get<std::string>().find("ANTHROPIC_API_KEY") != std::string::npos);
  CHECK(worker_containers(d.instance()).empty());
  CHECK(api.get("/api/v1/runs").json()["runs"].empty());
}

TEST_CASE("claude: the API key appears nowhere: data dir - logs - events - docker inspect", "[integration][claude]") {
  claude_env env;
  users u;
  auto user = u.add("secret");
  auto id = env.api.start_run({{"user", user}, {"session", "s"}, {"message", "@@text:6 @@delay:700 @@bash:env"}});
  std::string cid;
  eventually([&] {
    for (const auto& c : worker_containers(env.d.instance())) cid = c.id;
    return !cid.empty();
  }, 20s);
  REQUIRE(!cid.empty());
  auto inspect = engine().inspect_json(cid).dump();
  CHECK(inspect.find(secret) == std::string::npos);
  CHECK(inspect.find("ANTHROPIC_API_KEY") == std::string::npos);
  env.api.wait_done(id);
  for (const auto& e : stored_events(env.api, id)) CHECK(e.data.find(secret) == std::string::npos);
  CHECK(env.d.log().find(secret) == std::string::npos);
  for (const auto& f : std::filesystem::recursive_directory_iterator(env.d.data_dir()))
    if (f.is_regular_file()) CHECK(slurp(f.path()).find(secret) == std::string::npos);
}

TEST_CASE("claude: the real key is nowhere the agent can look - env - /proc - files - and every request carried it",
          "[integration][claude][gateway]") {
  claude_env env;
  users u;
  // Reversed, so output redaction (the second line of defence) cannot hide what the agent read.
  const std::string look = "{ env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; "
                           // bracketed, so the patterns do not match themselves in the CLI's own transcript
                           "grep -rIao -e '6f1c2b9e4[d]' -e 'sk-ant-tes[t]' / $HOME /workspace --exclude-dir=proc --exclude-dir=sys "
                           "2>/dev/null | head -20; echo looked-everywhere; } | rev";
  auto id = env.api.start_run({{"user", u.add("leak")}, {"message", "@@bash:" + look}});
  REQUIRE(env.api.wait_done(id)["status"] == "succeeded");
  auto result = tool_result_of(stored_events(env.api, id));
  REQUIRE(result.is_object());
  const auto out = result["output"].get<std::string>();
  INFO(out);
  CHECK(out.find(reversed("looked-everywhere")) != std::string::npos);
  CHECK(out.find(reversed("ANTHROPIC_API_KEY=brt-")) != std::string::npos);  // it read its environment: a token
  CHECK(out.find(reversed("6f1c2b9e4d")) == std::string::npos);
  CHECK(out.find(reversed(secret)) == std::string::npos);
  CHECK(out.find(secret) == std::string::npos);
  auto seen = env.fake.message_requests();
  REQUIRE(seen.size() >= 2);  // the turn that asked for the tool, and the one that got its output
  for (const auto& r : seen) {
    CHECK(r["key_matched"] == true);
    CHECK(r.dump().find(reversed("6f1c2b9e4d")) == std::string::npos);
  }
  auto usage = env.api.get("/api/v1/runs/" + id).json()["usage"];
  long long in = 0, outt = 0;
  for (const auto& r : seen) {
    in += r["usage"]["input_tokens"].get<long long>();
    outt += r["usage"]["output_tokens"].get<long long>();
  }
  CHECK(usage["requests"] == static_cast<long long>(seen.size()));
  CHECK(usage["input_tokens"] == in);
  CHECK(usage["output_tokens"] == outt);
  auto metrics = env.api.get("/metrics").body;
  CHECK(metrics.find("berth_tokens_total{kind=\"output\"} " + std::to_string(outt) + "\n") != std::string::npos);
}

TEST_CASE("claude: no route out - direct connections fail - CONNECT reaches only allowed targets - both on the run",
          "[integration][claude][gateway]") {
  probe_server allowed("allowed-probe\n"), blocked("blocked-probe\n");
  const auto a = std::to_string(allowed.port()), b = std::to_string(blocked.port());
  claude_env env("127.0.0.1:" + a);
  users u;
  const std::string probe =
      "echo routes=$(awk 'NR>1 && $2==\"00000000\"' /proc/net/route | wc -l); "
      "(exec 3<>/dev/tcp/127.0.0.1/" + a + ") 2>/dev/null && echo direct-open || echo direct-failed; "
      "(exec 3<>/dev/tcp/172.17.0.1/" + a + ") 2>/dev/null && echo bridge-open || echo bridge-failed; "
      "exec 4<>/dev/tcp/127.0.0.1/8119; printf 'CONNECT 127.0.0.1:" + a + " HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&4; timeout 5 cat <&4; "
      "exec 5<>/dev/tcp/127.0.0.1/8119; printf 'CONNECT 127.0.0.1:" + b + " HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&5; timeout 5 cat <&5";
  auto id = env.api.start_run({{"user", u.add("egress")}, {"message", "@@bash:" + probe}});
  REQUIRE(env.api.wait_done(id)["status"] == "succeeded");
  auto evs = stored_events(env.api, id);
  auto result = tool_result_of(evs);
  REQUIRE(result.is_object());
  const auto out = result["output"].get<std::string>();
  INFO(out);
  CHECK(out.find("routes=0") != std::string::npos);  // no default route
  CHECK(out.find("direct-failed") != std::string::npos);
  CHECK(out.find("bridge-failed") != std::string::npos);
  CHECK(out.find("200 Connection Established") != std::string::npos);
  CHECK(out.find("allowed-probe") != std::string::npos);
  CHECK(out.find("403") != std::string::npos);
  CHECK(out.find("blocked-probe") == std::string::npos);
  CHECK(allowed.connections() == 1);
  CHECK(blocked.connections() == 0);
  std::vector<json> egress;
  for (const auto& e : evs)
    if (e.type == "egress") egress.push_back(e.json());
  REQUIRE(egress.size() == 2);
  CHECK(egress[0]["target"] == "127.0.0.1:" + a);
  CHECK(egress[0]["allowed"] == true);
  CHECK(egress[1]["target"] == "127.0.0.1:" + b);
  CHECK(egress[1]["allowed"] == false);
  auto metrics = env.api.get("/metrics").body;
  CHECK(metrics.find("berth_egress_total{outcome=\"allowed\"} 1\n") != std::string::npos);
  CHECK(metrics.find("berth_egress_total{outcome=\"refused\"} 1\n") != std::string::npos);
}

TEST_CASE("claude: an OAuth token works the same way - the worker holds only its run's token", "[integration][claude][gateway]") {
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", secret}}};
  berthd_process d({{"BERTH_ENGINES", "claude"}, {"BERTH_DEFAULT_ENGINE", "claude"},
                    {"CLAUDE_CODE_OAUTH_TOKEN", secret}, {"ANTHROPIC_BASE_URL", fake.base_url()}});
  api_client api(d.port(), test_key);
  users u;
  auto id = api.start_run({{"user", u.add("oauth")}, {"message", "@@text:4"}});
  auto done = api.wait_done(id);
  INFO(done.dump());
  CHECK(done["status"] == "succeeded");
  auto seen = fake.message_requests();
  REQUIRE(!seen.empty());
  for (const auto& r : seen) CHECK(r["key_matched"] == true);  // as `Authorization: Bearer <the real token>`
  std::vector<std::string> others;
  for (const auto& r : fake.requests())
    if (r["path"] != "/v1/messages") others.push_back(r["method"].get<std::string>() + " " + r["path"].get<std::string>());
  CHECK(others.empty());
}

TEST_CASE("claude: a run GitHub started clones its own repository through the gateway - no other - no push - GitHub's token stays out",
          "[integration][claude][github]") {
  // Two bare repositories behind the real `git http-backend` (the fake GitHub), which wants GitHub's token.
  const auto root = std::filesystem::temp_directory_path() / unique("berth-git");
  struct removed {
    std::filesystem::path p;
    ~removed() { std::filesystem::remove_all(p); }
  } cleanup{root};
  const std::string r = root.string();
  REQUIRE(std::system(("set -e; git init -q -b main " + r + "/src; echo widgets-readme-5e1 > " + r + "/src/README.md; "
                       "git -C " + r + "/src add README.md; git -C " + r + "/src -c user.name=t -c user.email=t@t commit -qm init; "
                       "git clone -q --bare " + r + "/src " + r + "/octo/widgets.git; git clone -q --bare " + r + "/src " + r +
                       "/octo/secret.git").c_str()) == 0);
  fake_chat gh({r, "Basic eC1hY2Nlc3MtdG9rZW46Z2hwX2dpdF90ZXN0X3Rva2Vu"});  // base64 of x-access-token:ghp_git_test_token
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", secret}}};
  const std::string hook_secret = "github-webhook-secret-git";
  users u;
  const std::string login = unique("alice");
  u.names.push_back("github." + login);
  // A comment on octo/widgets#7 whose agent runs `command`; the run, ended.
  auto github_run = [&](api_client& api, const std::string& command) {
    const auto body = json{{"action", "created"},
                           {"issue", {{"number", 7}, {"title", "read me"}}},
                           {"comment", {{"id", 1}, {"body", "@berth what does the README say?\n@@bash:" + command},
                                        {"user", {{"login", login}, {"type", "User"}}}}},
                           {"repository", {{"full_name", "octo/widgets"}}}}
                          .dump();
    auto res = api.post("/hooks/github", body,
                        {{"Content-Type", "application/json"}, {"X-GitHub-Event", "issue_comment"}, {"X-GitHub-Delivery", unique("d")},
                         {"X-Hub-Signature-256", "sha256=" + berth::chat::hmac_sha256_hex(hook_secret, body)}});
    REQUIRE(res.status == 200);
    const std::string run = res.json().value("run", "");
    REQUIRE(!run.empty());
    auto done = api.wait_done(run);
    INFO(done.dump());
    CHECK(api.get("/api/v1/runs/" + run).json()["trigger"] == "github:octo/widgets#7");
    REQUIRE(done["status"] == "succeeded");
    return run;
  };
  auto berthd = [&](const std::string& egress) {
    return berthd_process({{"BERTH_ENGINES", "claude"}, {"BERTH_DEFAULT_ENGINE", "claude"}, {"ANTHROPIC_API_KEY", secret},
                           {"ANTHROPIC_BASE_URL", fake.base_url()}, {"BERTH_GITHUB_WEBHOOK_SECRET", hook_secret},
                           {"BERTH_GITHUB_TOKEN", "ghp_git_test_token"}, {"BERTH_GITHUB_API_BASE", gh.base()},
                           {"BERTH_GITHUB_GIT_BASE", gh.base()}, {"BERTH_EGRESS_ALLOW", egress}});
  };
  const std::string gh_host = gh.base().substr(7);  // 127.0.0.1:<port>
  {
    // GitHub is a destination like any other: not on the allow-list, no clone (the run's egress event says why).
    auto d = berthd("");
    api_client api(d.port(), test_key);
    auto run = github_run(api, "git clone -q https://github.com/octo/widgets 2>&1");
    auto evs = stored_events(api, run);
    CHECK(tool_result_of(evs)["output"].get<std::string>().find("error: 403") != std::string::npos);
    std::vector<json> egress;
    for (const auto& e : evs)
      if (e.type == "egress") egress.push_back(e.json());
    REQUIRE(egress.size() == 1);
    CHECK(egress[0]["allowed"] == false);
    CHECK(egress[0]["reason"] == gh_host + " (BERTH_GITHUB_GIT_BASE) is not in BERTH_EGRESS_ALLOW");
    for (const auto& q : gh.requests()) CHECK(q.path.starts_with("/repos/"));  // comments only: nothing reached git
  }
  auto d = berthd(gh_host);
  api_client api(d.port(), test_key);
  const auto run = github_run(api,
      "git clone -q https://github.com/octo/widgets && cat widgets/README.md; "
      "git clone -q https://github.com/octo/secret 2>&1; git -C widgets push -q origin HEAD:refs/heads/x 2>&1; "
      "echo token-count=$(env | grep -c ghp_git_test_token)");
  auto result = tool_result_of(stored_events(api, run));
  REQUIRE(result.is_object());
  const auto out = result["output"].get<std::string>();
  INFO(out);
  CHECK(out.find("widgets-readme-5e1") != std::string::npos);  // cloned its own repository
  std::size_t refusals = 0;
  for (auto at = out.find("error: 403"); at != std::string::npos; at = out.find("error: 403", at + 1)) ++refusals;
  CHECK(refusals == 2);                                         // another repository, and a push
  CHECK(out.find("token-count=0") != std::string::npos);        // GitHub's token is not in the worker
  // The fake GitHub saw the clone of octo/widgets only, each request with GitHub's token (the gateway's).
  std::vector<std::string> git_paths;
  for (const auto& q : gh.requests())
    if (!q.path.starts_with("/repos/")) {
      git_paths.push_back(q.method + " " + q.path);
      CHECK(q.answered == 200);
    }
  // Protocol v2: the refs advertisement, then ls-refs and fetch as two POSTs (v0 would need one).
  REQUIRE(git_paths.size() >= 2);
  CHECK(git_paths.front() == "GET /octo/widgets.git/info/refs");
  for (std::size_t i = 1; i < git_paths.size(); ++i) CHECK(git_paths[i] == "POST /octo/widgets.git/git-upload-pack");
}

TEST_CASE("claude: a user over tokens_per_day - the next model call is refused - the run fails naming the budget - new runs get 429",
          "[integration][claude][budget]") {
  claude_env env;
  users u;
  const auto spender = u.add("spender"), other = u.add("thrifty");
  REQUIRE(env.api.put("/api/v1/users/" + spender + "/budget", R"({"tokens_per_day": 1})").status == 200);
  // The first model call is allowed (nothing spent yet) and answers with a Bash call; its usage puts the user
  // over the budget, so the call that would carry the tool's result is refused at the gateway.
  auto id = env.api.start_run({{"user", spender}, {"message", "@@bash:echo ran-the-tool"}});
  auto done = env.api.wait_done(id);
  INFO(done.dump());
  CHECK(done["status"] == "failed");
  auto rec = env.api.get("/api/v1/runs/" + id).json();
  const auto reason = rec.value("reason", "");
  CHECK(reason.starts_with("budget exceeded: user " + spender + " is over budget: tokens_per_day 1 reached ("));
  CHECK(rec["usage"]["requests"] == 1);
  CHECK(rec["usage"]["cost_usd"].get<double>() > 0);  // priced at BERTH_PRICES' default for the model
  auto result = tool_result_of(stored_events(env.api, id));
  REQUIRE(result.is_object());
  CHECK(result["output"].get<std::string>().find("ran-the-tool") != std::string::npos);
  CHECK(env.fake.message_requests().size() == 1);  // the refused call never reached the model API

  // New runs of that user are refused at submission, until the budget resets; other users are not.
  auto refused = env.api.post("/api/v1/runs", json{{"user", spender}, {"message", "@@text:2"}}.dump(), {{"Content-Type", "application/json"}});
  CHECK(refused.status == 429);
  CHECK(refused.json()["error"]["code"] == "budget_exceeded");
  const auto tomorrow = berth::format_time_ms(berth::runs::next_utc_midnight_ms(berth::now_ms()));
  CHECK(refused.json()["error"]["resets_at"] == tomorrow);
  CHECK(std::stoll(refused.header("Retry-After")) > 0);
  auto state = env.api.get("/api/v1/users/" + spender + "/budget").json();
  CHECK(state["budget"]["tokens_per_day"] == 1);
  CHECK(state["today"]["tokens"].get<long long>() > 1);
  CHECK(state.contains("exceeded"));
  auto metrics = env.api.get("/metrics").body;
  CHECK(metrics.find("berth_user_tokens_today{user=\"" + spender + "\"} " + state["today"]["tokens"].dump() + "\n") != std::string::npos);
  // The dashboard's overview lists the user's spend with the budget, marked over it.
  const auto cookie = env.api.dashboard_login(test_key);
  auto overview = env.api.get("/dashboard/api/overview", {{"Cookie", cookie}}).json();
  bool listed = false;
  for (const auto& row : overview["spend_today"])
    if (row["user"] == spender) listed = row["exceeded"] == true && row["budget"]["tokens_per_day"] == 1 && row["tokens"] == state["today"]["tokens"];
  CHECK(listed);
  auto fine = env.api.start_run({{"user", other}, {"message", "@@text:2"}});
  CHECK(env.api.wait_done(fine)["status"] == "succeeded");
  // A scheduled firing of that user is refused the same way: recorded as a failed run naming the budget.
  auto sched = env.api.post("/api/v1/schedules", json{{"user", spender}, {"message", "@@text:2"}, {"interval_s", 1}}.dump());
  REQUIRE(sched.status == 201);
  const auto trigger = "schedule:" + sched.json()["id"].get<std::string>();
  json fired;
  CHECK(eventually([&] {
    const auto list = env.api.get("/api/v1/runs?user=" + spender + "&limit=50").json();  // held: the loop reads into it
    for (const auto& r : list["runs"])
      if (r.value("trigger", "") == trigger && r.value("status", "") == "failed") fired = r;
    return fired.is_object();
  }));
  REQUIRE(fired.is_object());
  CHECK(fired.value("reason", "").starts_with("not started: budget exceeded: user " + spender + " is over budget"));
  CHECK(env.api.del("/api/v1/schedules/" + sched.json()["id"].get<std::string>()).status == 200);

  // Removed, the budget limits nothing.
  CHECK(env.api.del("/api/v1/users/" + spender + "/budget").status == 200);
  auto after = env.api.start_run({{"user", spender}, {"message", "@@text:2"}});
  CHECK(env.api.wait_done(after)["status"] == "succeeded");
}

TEST_CASE("claude: a user's skills - subagents - MCP server and tool policy reach that user's model requests and no other user's - hostile uploads store nothing",
          "[integration][claude][skills]") {
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", secret}}};
  const std::string other_key = "not-an-admin-key-0123456789";
  berthd_process d({{"BERTH_ENGINES", "claude"}, {"BERTH_DEFAULT_ENGINE", "claude"}, {"ANTHROPIC_API_KEY", secret},
                    {"ANTHROPIC_BASE_URL", fake.base_url()}, {"BERTH_API_KEYS", test_key + "," + other_key},
                    {"BERTH_ADMIN_KEYS", test_key}});
  api_client api(d.port(), test_key);
  users u;
  const auto alice = u.add("skilled"), bob = u.add("plain");
  auto put = [&](const std::string& path, const std::string& body, const std::string& type) { return api.put(path, body, type); };
  const std::string skill = R"({"files": {"SKILL.md": "---\nname: lint-helper\ndescription: ALICE-SKILL-7731 lints the house way\n---\nRun scripts/lint.sh.\n",
                                          "scripts/lint.sh": "#!/bin/sh\necho lint-ok\n"}})";
  REQUIRE(put("/api/v1/users/" + alice + "/skills/lint-helper", skill, "application/json").status == 200);
  REQUIRE(put("/api/v1/users/" + alice + "/agents/reviewer", "---\nname: reviewer\ndescription: ALICE-AGENT-5120 reviews diffs\n---\nBe strict.\n",
              "text/markdown").status == 200);
  REQUIRE(put("/api/v1/skills/house-style", R"({"files": {"SKILL.md": "---\nname: house-style\ndescription: GLOBAL-SKILL-4410 the house style\n---\nx\n"}})",
              "application/json").status == 200);
  auto mcp = put("/api/v1/users/" + alice + "/mcp", R"({"mcpServers": {"echo": {"command": "berth-worker", "args": ["mcp-echo"]}}})", "application/json");
  INFO(mcp.body);
  REQUIRE(mcp.status == 200);

  // Hostile or broken uploads: refused, and nothing of them is kept.
  CHECK(put("/api/v1/users/" + alice + "/skills/evil", R"({"files": {"SKILL.md": "---\nname: e\ndescription: e\n---\n", "../../etc/x": "x"}})", "application/json").status == 400);
  CHECK(put("/api/v1/users/" + alice + "/skills/evil", R"({"files": {"README.md": "no SKILL.md"}})", "application/json").status == 400);
  CHECK(put("/api/v1/users/" + alice + "/skills/evil", R"({"files": {"SKILL.md": "---\nname: e\ndescription: e\n---\n", "big": ")" + std::string(300 * 1024, 'x') + R"("}})", "application/json").status == 413);
  CHECK(put("/api/v1/users/" + alice + "/skills/Evil_Name", skill, "application/json").status == 400);
  CHECK(put("/api/v1/users/" + alice + "/skills/evil", "\x1f\x8b not really gzip", "application/gzip").status == 400);
  CHECK(put("/api/v1/users/" + alice + "/mcp", R"({"mcpServers": {"x": {"command": "curl"}}})", "application/json").status == 400);
  CHECK(put("/api/v1/users/" + alice + "/mcp", R"({"mcpServers": {"x": {"type": "http", "url": "https://mcp.example.com/"}}})", "application/json").status == 400);
  // Only an admin key changes what every user shares.
  CHECK(api_client(d.port(), other_key).put("/api/v1/skills/house-style", R"({"files": {}})").status == 403);
  auto listed = api.get("/api/v1/users/" + alice + "/skills").json();
  std::set<std::string> names;
  for (const auto& s : listed["skills"]) names.insert(s["name"].get<std::string>() + "/" + s["scope"].get<std::string>());
  CHECK(names == std::set<std::string>{"lint-helper/user", "house-style/global"});
  for (const auto& s : listed["skills"]) CHECK(s["sha256"].get<std::string>().size() == 64);

  auto first_request_of = [&](const std::string& user, const json& options) {
    const auto before = fake.message_requests().size();
    json body = {{"user", user}, {"message", "@@text:2"}};
    if (!options.is_null()) body["options"] = options;
    auto id = api.start_run(body);
    auto done = api.wait_done(id);
    INFO(done.dump());
    CHECK(done["status"] == "succeeded");
    auto all = fake.message_requests();
    REQUIRE(all.size() > before);
    return all[before]["body"].dump();
  };
  const auto a = first_request_of(alice, nullptr);
  CHECK(a.find("ALICE-SKILL-7731") != std::string::npos);
  CHECK(a.find("ALICE-AGENT-5120") != std::string::npos);
  CHECK(a.find("GLOBAL-SKILL-4410") != std::string::npos);
  CHECK(a.find("mcp__echo__echo") != std::string::npos);  // the MCP server's tool, offered to the model
  const auto b = first_request_of(bob, nullptr);
  CHECK(b.find("GLOBAL-SKILL-4410") != std::string::npos);
  CHECK(b.find("ALICE-SKILL-7731") == std::string::npos);
  CHECK(b.find("ALICE-AGENT-5120") == std::string::npos);
  CHECK(b.find("mcp__echo") == std::string::npos);
  // A user's tool policy (set with a key covering every user) narrows what their runs offer the model.
  auto tool_names = [](const std::string& body) {
    std::set<std::string> offered;
    for (const auto& t : json::parse(body).value("tools", json::array())) offered.insert(t.value("name", ""));
    return offered;
  };
  CHECK(tool_names(b).count("Bash"));
  REQUIRE(put("/api/v1/users/" + alice + "/tools", R"({"disallowed_tools": ["Bash"]})", "application/json").status == 200);
  CHECK(put("/api/v1/users/" + alice + "/tools", R"({"disallowed_tools": "Bash"})", "application/json").status == 400);
  CHECK(tool_names(first_request_of(alice, nullptr)).count("Bash") == 0);
  CHECK(tool_names(first_request_of(bob, nullptr)).count("Bash") == 1);
  // A request may narrow the set: only the global skill, no agents.
  const auto narrow = first_request_of(alice, json{{"skills", {"house-style"}}, {"agents", json::array()}});
  CHECK(narrow.find("GLOBAL-SKILL-4410") != std::string::npos);
  CHECK(narrow.find("ALICE-SKILL-7731") == std::string::npos);
  CHECK(narrow.find("ALICE-AGENT-5120") == std::string::npos);
}

TEST_CASE("skill sets: a set no run asks for any more loses its volume - the next run of that set writes it again", "[integration]") {
  berthd_process d({{"BERTH_SKILL_SET_KEEP_S", "1"}, {"BERTH_WORKSPACE_CHECK_S", "1"}});
  api_client api(d.port(), test_key);
  users u;
  const auto user = u.add("sweep");
  auto set_volumes = [&] {
    std::set<std::string> out;
    for (auto& v : engine().list_volumes("berth.instance=" + d.instance()))
      if (v.starts_with("berth-set-")) out.insert(v);
    return out;
  };
  auto skill = [](const std::string& desc) {
    return json{{"files", {{"SKILL.md", "---\nname: swept\ndescription: " + desc + "\n---\nbody\n"}}}}.dump();
  };
  auto run = [&] { return api.wait_done(api.start_run({{"user", user}, {"message", "hi"}}))["status"]; };
  REQUIRE(api.put("/api/v1/users/" + user + "/skills/swept", skill("first")).status == 200);
  REQUIRE(run() == "succeeded");
  const auto first = set_volumes();
  REQUIRE(first.size() == 1);
  REQUIRE(api.put("/api/v1/users/" + user + "/skills/swept", skill("second")).status == 200);
  REQUIRE(run() == "succeeded");
  auto both = set_volumes();
  REQUIRE(both.size() == 2);  // a changed set is a new volume
  CHECK(eventually([&] { return !set_volumes().count(*first.begin()); }));  // the first set's volume goes
  both.erase(*first.begin());
  const auto second = *both.begin();
  CHECK(eventually([&] { return !set_volumes().count(second); }));  // idle too, with a keep of 1 s
  REQUIRE(run() == "succeeded");  // asks for the second set again: written again, not assumed
  CHECK(set_volumes().count(second));
  // Written three times (an engine would make an empty volume of that name by itself, so count the writes).
  const auto log = d.log();
  std::size_t writes = 0;
  for (auto at = log.find("skill set written"); at != std::string::npos; at = log.find("skill set written", at + 1)) ++writes;
  CHECK(writes == 3);
  CHECK(log.find("removed an unused skill set volume") != std::string::npos);
}
