// Runs that start themselves (schedules, heartbeats) and runs started from GitHub, against the real engine:
// every one an ordinary run (same limits, streaming, history), each firing once across restarts.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
#include "fake_chat.hpp"
#include "run_helpers.hpp"
#include "common/strings.hpp"
#include "server/chat/signing.hpp"

using namespace berth::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
// The runs a trigger started, oldest first.
std::vector<json> runs_of(api_client& api, const std::string& user, const std::string& trigger) {
  std::vector<json> out;
  auto list = api.get("/api/v1/runs?user=" + user + "&limit=500").json();
  for (const auto& r : list["runs"])
    if (r.value("trigger", "") == trigger) out.insert(out.begin(), r);
  return out;
}
}  // namespace

TEST_CASE("a schedule every 2 s fires ordinary runs - a 6 s stop fires no burst and nothing twice - deleted it stops - bad cron 400",
          "[integration][schedule]") {
  berthd_process d({{"BERTH_SCHEDULE_MIN_INTERVAL_S", "1"}});
  api_client api(d.port(), test_key);
  auto bad = api.post("/api/v1/schedules", json{{"user", "s1"}, {"message", "x"}, {"cron", "61 * * * *"}}.dump());
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"]["code"] == "invalid_cron");
  CHECK(bad.json()["error"]["message"] == "minute: 61 is out of range 0-59");
  CHECK(api.post("/api/v1/schedules", json{{"user", "s1"}, {"message", "x"}, {"interval_s", 2}, {"cron", "* * * * *"}}.dump()).status == 400);
  CHECK(api.post("/api/v1/schedules", json{{"user", "s1"}, {"message", "x"}, {"cron", "0 9 * * *"}, {"timezone", "Mars/Base"}}.dump()).status == 400);
  CHECK(api.post("/api/v1/schedules", json{{"user", "s1"}, {"message", "x"}, {"interval_s", 2}, {"colour", "red"}}.dump()).status == 400);

  auto created = api.post("/api/v1/schedules", json{{"user", "s1"}, {"message", "tick tock"}, {"engine", "echo"}, {"interval_s", 2}}.dump());
  REQUIRE(created.status == 201);
  const std::string id = created.json()["id"];
  CHECK(!created.json()["next_run"].get<std::string>().empty());
  const std::string trigger = "schedule:" + id;
  REQUIRE(eventually([&] { return runs_of(api, "s1", trigger).size() >= 2; }, 15s));
  auto first = runs_of(api, "s1", trigger).front();
  CHECK(api.wait_done(first["id"])["status"] == "succeeded");
  CHECK(spelled(stored_events(api, first["id"])) == "tick tock");
  auto full = api.get("/api/v1/runs/" + first["id"].get<std::string>()).json();
  CHECK(full["trigger"] == trigger);
  CHECK(full.contains("scheduled_for"));

  // Down for 6 s (three firings' worth): no firing in the downtime is replayed, none twice, and the schedule
  // goes on from its next firing after the start.
  d.terminate();
  const auto stopped_ms = berth::now_ms();
  std::this_thread::sleep_for(6s);  // the downtime itself
  d.restart();
  const auto restarted_ms = berth::now_ms();
  api_client again(d.port(), test_key);
  const auto before = runs_of(again, "s1", trigger).size();
  REQUIRE(eventually([&] { return runs_of(again, "s1", trigger).size() >= before + 2; }, 15s));
  std::set<std::string> slots;
  int in_downtime = 0, burst = 0;
  for (const auto& r : runs_of(again, "s1", trigger)) {
    auto run = again.get("/api/v1/runs/" + r["id"].get<std::string>()).json();
    const auto slot = run["scheduled_for"].get<std::string>();
    CHECK(slots.insert(slot).second);  // each firing once
    // Timestamps are RFC 3339 UTC with milliseconds: they compare as strings.
    if (slot > berth::format_time_ms(stopped_ms + 1500) && slot < berth::format_time_ms(restarted_ms)) ++in_downtime;
    const auto made = run["created_at"].get<std::string>();
    if (made >= berth::format_time_ms(restarted_ms) && made < berth::format_time_ms(restarted_ms + 1500)) ++burst;
  }
  CHECK(in_downtime == 0);
  CHECK(burst <= 1);
  CHECK(d.log().find("missed firing skipped") != std::string::npos);
  CHECK(again.get("/api/v1/schedules/" + id).json()["next_run"].is_string());

  // Paused, then deleted: nothing more fires.
  CHECK(again.post("/api/v1/schedules/" + id + "/pause", "").json()["paused"] == true);
  CHECK(again.del("/api/v1/schedules/" + id).status == 200);
  const auto count = runs_of(again, "s1", trigger).size();
  std::this_thread::sleep_for(5s);  // two periods: a firing here would be a failure
  CHECK(runs_of(again, "s1", trigger).size() == count);
  CHECK(again.get("/api/v1/schedules/" + id).status == 404);
  for (const auto& r : runs_of(again, "s1", trigger)) again.wait_done(r["id"]);
}

TEST_CASE("heartbeat: HEARTBEAT_OK sends nothing - any other answer reaches the user's Slack", "[integration][schedule]") {
  fake_chat slack;
  berthd_process d({{"BERTH_SCHEDULE_MIN_INTERVAL_S", "1"}, {"BERTH_SLACK_SIGNING_SECRET", "slack-signing-secret-0123"},
                    {"BERTH_SLACK_BOT_TOKEN", "xoxb-test"}, {"BERTH_SLACK_API_BASE", slack.base()}});
  api_client api(d.port(), test_key);
  CHECK(api.put("/api/v1/users/hb1/heartbeat", json{{"interval_s", 2}}.dump()).status == 400);  // no reply target
  CHECK(api.put("/api/v1/users/hb1/heartbeat", json{{"interval_s", 2}, {"reply", {{"email", "x"}}}}.dump()).status == 400);
  auto put = [&](const std::string& message) {
    auto r = api.put("/api/v1/users/hb1/heartbeat",
                     json{{"interval_s", 2}, {"engine", "echo"}, {"message", message}, {"reply", {{"slack", {{"channel", "C9"}}}}}}.dump());
    REQUIRE(r.status == 200);
  };
  put("HEARTBEAT_OK");
  REQUIRE(eventually([&] {
    auto q = api.get("/api/v1/deliveries?state=quiet&limit=50").json();
    return q["deliveries"].size() >= 2;
  }, 15s));
  CHECK(slack.requests_to("/chat.postMessage").empty());
  CHECK(runs_of(api, "hb1", "heartbeat:hb1").size() >= 2);

  put("the disk is almost full");
  REQUIRE(slack.wait_for([](const auto& rs) {
    for (const auto& r : rs)
      if (r.path.ends_with("/chat.postMessage") && r.json().value("text", "").find("the disk is almost full") != std::string::npos) return true;
    return false;
  }));
  CHECK(slack.requests_to("/chat.postMessage").front().json()["channel"] == "C9");
  CHECK(api.del("/api/v1/users/hb1/heartbeat").status == 200);
  CHECK(api.get("/api/v1/users/hb1/heartbeat").status == 404);
  for (const auto& r : runs_of(api, "hb1", "heartbeat:hb1")) api.wait_done(r["id"]);
}

TEST_CASE("github: a signed comment mentioning the bot starts one run answered on the issue - redelivery, unsigned, bots and no mention start nothing",
          "[integration][github]") {
  fake_chat gh;
  const std::string secret = "github-webhook-secret-0123";
  berthd_process d({{"BERTH_GITHUB_WEBHOOK_SECRET", secret}, {"BERTH_GITHUB_TOKEN", "ghp_test_token"},
                    {"BERTH_GITHUB_API_BASE", gh.base()}, {"BERTH_DEFAULT_ENGINE", "echo"}, {"BERTH_CHAT_UPDATE_MS", "200"}});
  api_client api(d.port());
  auto comment = [](const std::string& login, const std::string& type, const std::string& text) {
    return json{{"action", "created"},
                {"issue", {{"number", 7}, {"title", "flaky test"}}},
                {"comment", {{"id", 1}, {"body", text}, {"user", {{"login", login}, {"type", type}}}}},
                {"repository", {{"full_name", "octo/widgets"}}},
                {"sender", {{"login", login}}}}
        .dump();
  };
  auto deliver = [&](const std::string& delivery, const std::string& body, bool sign = true, const std::string& key = "") {
    std::map<std::string, std::string> h = {{"Content-Type", "application/json"}, {"X-GitHub-Event", "issue_comment"},
                                            {"X-GitHub-Delivery", delivery}};
    if (sign) h["X-Hub-Signature-256"] = "sha256=" + berth::chat::hmac_sha256_hex(key.empty() ? secret : key, body);
    return api.post("/hooks/github", body, h);
  };
  const auto body = comment("alice", "User", "@berth please look at this and say hi");
  CHECK(deliver("d-0", body, false).status == 401);                     // unsigned: refused before parsing
  CHECK(deliver("d-0", body, true, "another-secret").status == 401);    // signed with something else
  auto first = deliver("d-1", body);
  REQUIRE(first.status == 200);
  const std::string run = first.json().value("run", "");
  REQUIRE(!run.empty());
  api_client admin(d.port(), test_key);
  auto rec = admin.get("/api/v1/runs/" + run).json();
  CHECK(rec["user"] == "github.alice");
  CHECK(rec["session"] == "octo/widgets#7");
  CHECK(admin.wait_done(run)["status"] == "succeeded");
  // The reply: a progress comment posted on the issue, then edited into the answer.
  REQUIRE(gh.wait_for([](const auto& rs) {
    for (const auto& r : rs)
      if (r.method == "PATCH" && r.json().value("body", "").find("say hi") != std::string::npos) return true;
    return false;
  }));
  auto posts = gh.requests_to("/repos/octo/widgets/issues/7/comments");
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].method == "POST");
  CHECK(posts[0].header("Authorization") == "Bearer ghp_test_token");
  for (const auto& r : gh.requests()) CHECK(r.path.starts_with("/repos/octo/widgets/issues/"));

  auto again = deliver("d-1", body);  // GitHub redelivers
  CHECK(again.json().value("duplicate", false));
  CHECK(deliver("d-2", comment("ci[bot]", "Bot", "@berth ping")).json().contains("ignored"));
  CHECK(deliver("d-3", comment("bob", "User", "no mention here, @berthold")).json().contains("ignored"));
  auto runs = admin.get("/api/v1/runs?limit=50").json()["runs"];
  CHECK(runs.size() == 1);
  CHECK(gh.requests_to("/repos/octo/widgets/issues/7/comments").size() == 1);
}
