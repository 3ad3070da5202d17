// Chat integrations against the real berthd, real worker containers and local fake Slack / Telegram / callback
// servers: verification before anything, one run per event however often it is retried, replies in the right
// thread or chat, signed callbacks retried until they land, and a pending delivery surviving kill -9.
#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <thread>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "fake_chat.hpp"
#include "common/event.hpp"
#include "common/ids.hpp"
#include "common/strings.hpp"
#include "server/chat/outbox.hpp"
#include "server/chat/signing.hpp"
#include "server/runs/journal.hpp"

using namespace berth::test;
using nlohmann::json;

namespace {
const std::string slack_secret = "slack-signing-secret-for-tests";
const std::string slack_token = "xoxb-test-token-0000";
const std::string tg_token = "123456:telegram-test-token";
const std::string tg_secret = "telegram-secret-token-for-tests";

long long now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

http_result slack_post(api_client& c, const std::string& body, long long ts, const std::string& secret = slack_secret,
                       std::map<std::string, std::string> extra = {}) {
  auto t = std::to_string(ts);
  extra["X-Slack-Request-Timestamp"] = t;
  extra["X-Slack-Signature"] = "v0=" + berth::chat::hmac_sha256_hex(secret, "v0:" + t + ":" + body);
  return c.post("/hooks/slack", body, extra);
}

std::string slack_message(const std::string& event_id, const std::string& text) {
  return json{{"type", "event_callback"}, {"team_id", "T1"}, {"event_id", event_id},
              {"event", {{"type", "message"}, {"user", "U7"}, {"channel", "C42"}, {"ts", "1700000000.000100"}, {"text", text}}}}
      .dump();
}

int runs_of(api_client& api, const std::string& user) {
  return static_cast<int>(api.get("/api/v1/runs?user=" + user).json()["runs"].size());
}

// Polls the API for the delivery's state up to a deadline: the outbox's progress is visible only there.
json wait_delivery(api_client& api, const std::string& run, const std::string& state) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  json last;
  while (std::chrono::steady_clock::now() < deadline) {
    last = api.get("/api/v1/runs/" + run).json();
    for (const auto& d : last["deliveries"])
      if (d["state"] == state) return d;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval, not a synchronisation
  }
  FAIL("delivery of " << run << " never reached " << state << ": " << last.dump());
  return {};
}
}  // namespace

TEST_CASE("slack: verified events start one run each and the reply lands in the thread", "[integration][chat]") {
  fake_chat fake;
  berthd_process d({{"BERTH_SLACK_SIGNING_SECRET", slack_secret}, {"BERTH_SLACK_BOT_TOKEN", slack_token},
                    {"BERTH_SLACK_API_BASE", fake.base()}});
  api_client api(d.port(), test_key);
  api_client anon(d.port());

  auto challenge = slack_post(anon, R"({"type":"url_verification","challenge":"c-123"})", now_s());
  CHECK(challenge.status == 200);
  CHECK(challenge.json()["challenge"] == "c-123");

  // Bad, stale or missing signatures start nothing.
  auto body = slack_message("Ev100", "hello from slack");
  CHECK(slack_post(anon, body, now_s(), "wrong-secret").status == 401);
  CHECK(slack_post(anon, body, now_s() - 600).status == 401);
  CHECK(anon.post("/hooks/slack", body).status == 401);
  CHECK(runs_of(api, "slack.T1.U7") == 0);

  // The event, then Slack's three retries of it: one run.
  auto first = slack_post(anon, body, now_s());
  REQUIRE(first.status == 200);
  std::string run = first.json()["run"];
  for (int retry = 1; retry <= 3; ++retry) {
    auto again = slack_post(anon, body, now_s(), slack_secret, {{"X-Slack-Retry-Num", std::to_string(retry)}});
    CHECK(again.status == 200);
    CHECK(again.json()["duplicate"] == true);
  }
  CHECK(runs_of(api, "slack.T1.U7") == 1);
  CHECK(api.wait_done(run)["status"] == "succeeded");

  auto delivered = wait_delivery(api, run, "delivered");
  CHECK(delivered["kind"] == "slack");
  auto posts = fake.requests_to("/chat.postMessage");
  auto updates = fake.requests_to("/chat.update");
  REQUIRE(posts.size() + updates.size() >= 1);
  // The final text is in the thread the message came from, posted with the bot token.
  auto& last = updates.empty() ? posts.back() : updates.back();
  CHECK(last.json()["text"] == "hello from slack");
  CHECK(last.json()["channel"] == "C42");
  CHECK(posts.front().json()["thread_ts"] == "1700000000.000100");
  CHECK(last.header("Authorization") == "Bearer " + slack_token);

  // Bots, edits: ignored. The session is the thread.
  auto bot = json{{"type", "event_callback"}, {"team_id", "T1"}, {"event_id", "Ev101"},
                  {"event", {{"type", "message"}, {"bot_id", "B1"}, {"channel", "C42"}, {"ts", "1"}, {"text", "echo"}}}};
  CHECK(slack_post(anon, bot.dump(), now_s()).json()["ignored"] == "a bot's message");
  CHECK(api.get("/api/v1/runs/" + run).json()["session"] == "C42.1700000000.000100");
  CHECK(d.log().find(slack_token) == std::string::npos);
  CHECK(d.log().find(slack_secret) == std::string::npos);
}

TEST_CASE("telegram: the secret token is required and the reply goes to the chat", "[integration][chat]") {
  fake_chat fake;
  berthd_process d({{"BERTH_TELEGRAM_BOT_TOKEN", tg_token}, {"BERTH_TELEGRAM_SECRET_TOKEN", tg_secret},
                    {"BERTH_TELEGRAM_API_BASE", fake.base()}});
  api_client api(d.port(), test_key);
  api_client anon(d.port());
  auto update = json{{"update_id", 9001}, {"message", {{"message_id", 55}, {"from", {{"id", 7}, {"is_bot", false}}},
                                                       {"chat", {{"id", 4242}, {"type", "private"}}}, {"text", "hi telegram"}}}}
                    .dump();
  CHECK(anon.post("/hooks/telegram", update).status == 401);
  CHECK(anon.post("/hooks/telegram", update, {{"X-Telegram-Bot-Api-Secret-Token", "wrong"}}).status == 401);
  CHECK(runs_of(api, "tg.4242") == 0);

  auto first = anon.post("/hooks/telegram", update, {{"X-Telegram-Bot-Api-Secret-Token", tg_secret}});
  REQUIRE(first.status == 200);
  std::string run = first.json()["run"];
  for (int i = 0; i < 3; ++i)
    CHECK(anon.post("/hooks/telegram", update, {{"X-Telegram-Bot-Api-Secret-Token", tg_secret}}).json()["duplicate"] == true);
  CHECK(runs_of(api, "tg.4242") == 1);
  CHECK(api.wait_done(run)["status"] == "succeeded");
  wait_delivery(api, run, "delivered");

  auto sends = fake.requests_to("/bot" + tg_token + "/sendMessage");
  auto edits = fake.requests_to("/bot" + tg_token + "/editMessageText");
  REQUIRE(!sends.empty());
  CHECK(sends.front().json()["chat_id"] == 4242);
  CHECK(sends.front().json()["reply_parameters"]["message_id"] == 55);
  auto& last = edits.empty() ? sends.back() : edits.back();
  CHECK(last.json()["text"] == "hi telegram");
  CHECK(d.log().find(tg_token) == std::string::npos);
  CHECK(d.log().find(tg_secret) == std::string::npos);
}

TEST_CASE("callbacks: allow-listed only - signed - retried until one success", "[integration][chat]") {
  fake_chat fake;
  berthd_process d({{"BERTH_CALLBACK_ALLOW", "http://127.0.0.1:*"}, {"BERTH_DELIVERY_BACKOFF_MS", "100"}});
  api_client api(d.port(), test_key);

  auto refused = api.post("/api/v1/runs", json{{"user", "cb"}, {"message", "x"}, {"callback_url", "http://169.254.169.254/latest"}}.dump());
  CHECK(refused.status == 400);
  CHECK(refused.json()["error"]["code"] == "callback_not_allowed");
  CHECK(api.post("/api/v1/runs", json{{"user", "cb"}, {"message", "x"}, {"callback_url", "http://u:p@127.0.0.1:1/"}}.dump()).status == 400);
  CHECK(runs_of(api, "cb") == 0);

  fake.fail_callbacks(2);
  auto id = api.start_run({{"user", "cb"}, {"message", "called back"}, {"callback_url", fake.base() + "/hook?x=1"}});
  CHECK(api.wait_done(id)["status"] == "succeeded");
  auto d1 = wait_delivery(api, id, "delivered");
  CHECK(d1["attempts"] == 3);
  auto calls = fake.requests_to("/hook");
  REQUIRE(calls.size() == 3);
  int ok = 0;
  for (const auto& c : calls) ok += c.answered == 200;
  CHECK(ok == 1);
  const auto& good = calls.back();
  CHECK(good.answered == 200);
  auto secret = berth::chat::callback_secret(test_key);
  CHECK(good.header("X-Berth-Signature") == "sha256=" + berth::chat::hmac_sha256_hex(secret, good.body));
  auto body = good.json();
  CHECK(body["run"] == id);
  CHECK(body["status"] == "succeeded");
  CHECK(body["text"] == "called back");
  CHECK(std::to_string(body["timestamp"].get<long long>()) == good.header("X-Berth-Timestamp"));
  // Every attempt carried the same delivery id, so a receiver can de-duplicate.
  for (const auto& c : calls) CHECK(c.header("X-Berth-Delivery") == good.header("X-Berth-Delivery"));
}

TEST_CASE("callbacks: a delivery pending at kill -9 is delivered after the restart", "[integration][chat]") {
  fake_chat fake;
  berthd_process d({{"BERTH_CALLBACK_ALLOW", "http://127.0.0.1:*"}, {"BERTH_DELIVERY_BACKOFF_MS", "200"}});
  api_client api(d.port(), test_key);
  fake.fail_callbacks(1000000);
  auto id = api.start_run({{"user", "cb"}, {"message", "survives"}, {"callback_url", fake.base() + "/after-crash"}});
  CHECK(api.wait_done(id)["status"] == "succeeded");
  REQUIRE(fake.wait_for([](const auto& seen) { return seen.size() >= 2; }));  // it is being retried
  d.kill9();
  fake.fail_callbacks(0);
  d.restart();
  api_client after(d.port(), test_key);
  auto delivered = wait_delivery(after, id, "delivered");
  // An attempt cut off by the kill may not be counted; it is retried (at-least-once, same delivery id).
  CHECK(delivered["attempts"].get<int>() >= 2);
  auto calls = fake.requests_to("/after-crash");
  REQUIRE(calls.size() >= 3);
  CHECK(calls.back().answered == 200);
  CHECK(calls.back().json()["text"] == "survives");
}

TEST_CASE("slack: a message that cannot start a run is answered with why - once", "[integration][chat]") {
  fake_chat fake;
  // The default engine is claude and berthd has no credentials for it: admission refuses every chat run.
  berthd_process d({{"BERTH_SLACK_SIGNING_SECRET", slack_secret}, {"BERTH_SLACK_BOT_TOKEN", slack_token},
                    {"BERTH_SLACK_API_BASE", fake.base()}, {"BERTH_ENGINES", "echo,claude"}, {"BERTH_DEFAULT_ENGINE", "claude"}});
  api_client api(d.port(), test_key);
  api_client anon(d.port());
  auto body = slack_message("Ev300", "please help");
  auto r = slack_post(anon, body, now_s());
  REQUIRE(r.status == 200);  // acknowledged: a retry would meet the same refusal
  CHECK(r.json()["refused"].get<std::string>().find("ANTHROPIC_API_KEY") != std::string::npos);
  std::string run = r.json()["run"];
  CHECK(slack_post(anon, body, now_s(), slack_secret, {{"X-Slack-Retry-Num", "1"}}).json()["duplicate"] == true);
  auto rec = api.get("/api/v1/runs/" + run).json();
  CHECK(rec["status"] == "failed");
  CHECK(rec["message"] == "please help");  // the message is kept in the history
  CHECK(rec["reason"].get<std::string>().rfind("not started: ", 0) == 0);
  CHECK(api.wait_done(run)["status"] == "failed");
  wait_delivery(api, run, "delivered");
  auto posts = fake.requests_to("/chat.postMessage");
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].json()["thread_ts"] == "1700000000.000100");
  CHECK(posts[0].json()["text"].get<std::string>().find("not started") != std::string::npos);
  CHECK(posts[0].json()["text"].get<std::string>().find("ANTHROPIC_API_KEY") != std::string::npos);
  CHECK(runs_of(api, "slack.T1.U7") == 1);
}

TEST_CASE("a reply that cannot be delivered is marked failed with its last error", "[integration][chat]") {
  fake_chat fake;
  fake.slack_error("channel_not_found");
  berthd_process d({{"BERTH_SLACK_SIGNING_SECRET", slack_secret}, {"BERTH_SLACK_BOT_TOKEN", slack_token},
                    {"BERTH_SLACK_API_BASE", fake.base()}});
  api_client api(d.port(), test_key);
  api_client anon(d.port());
  auto r = slack_post(anon, slack_message("Ev200", "nowhere to go"), now_s());
  REQUIRE(r.status == 200);
  std::string run = r.json()["run"];
  auto failed = wait_delivery(api, run, "failed");
  CHECK(failed["last_error"].get<std::string>().find("channel_not_found") != std::string::npos);
  auto list = api.get("/api/v1/deliveries?state=failed").json()["deliveries"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["run"] == run);
  CHECK(d.log().find("reply failed for good") != std::string::npos);

  // …and on the dashboard's overview, with its run and last error.
  auto cookie = anon.dashboard_login(test_key);
  auto overview = anon.get("/dashboard/api/overview", {{"Cookie", cookie}}).json();
  CHECK(overview["deliveries"]["failed"] == 1);
  REQUIRE(overview["failed_deliveries"].size() == 1);
  CHECK(overview["failed_deliveries"][0]["run"] == run);
  CHECK(overview["failed_deliveries"][0]["last_error"].get<std::string>().find("channel_not_found") != std::string::npos);
  // …and to Prometheus, for an alert.
  auto metrics = api.get("/metrics").body;
  CHECK(metrics.find("berth_deliveries{state=\"failed\"} 1\n") != std::string::npos);
  CHECK(metrics.find("berth_deliveries{state=\"delivered\"} 0\n") != std::string::npos);
}

// The outbox on its own: a real store (in memory), bus and journal, and the fake chat APIs; the test plays the
// executor's part by writing a run's events.
struct outbox_harness {
  fake_chat fake;
  berth::config c;
  berth::store::store s{":memory:"};
  berth::runs::event_bus bus;
  berth::runs::journal j{s, bus};
  std::unique_ptr<berth::chat::outbox> o;
  std::string run;
  std::int64_t seq = 1;

  outbox_harness() {
    c.slack_bot_token = slack_token;
    c.slack_api_base = fake.base();
    c.telegram_bot_token = tg_token;
    c.telegram_api_base = fake.base();
    c.chat_update_ms = 200;
    o = std::make_unique<berth::chat::outbox>(c, s, bus);
    j.on_finished([this](const std::string&) { o->notify(); });
    o->start();
  }
  ~outbox_harness() { o->stop(); }

  void start_chat_run(const std::string& kind, const json& target) {
    berth::store::run_record rec;
    rec.id = run = berth::new_run_id();
    rec.user = "someone";
    rec.engine = "echo";
    rec.message = "hi";
    rec.status = "queued";
    rec.created_at = berth::now_ms();
    rec.last_seq = 1;
    berth::store::delivery_record reply;
    reply.kind = kind;
    reply.target = target.dump();
    j.insert(rec, {rec.id, 1, "status", berth::event_data(rec.id, {{"status", "queued"}}), rec.created_at}, {reply});
    o->track(run);
  }
  void say(const std::string& text) { j.write(run, seq, {{"text", {{"text", text}}}}); }
  void finish(const std::string& result) {
    berth::store::run_update done;
    done.status = "succeeded";
    done.finished_at = berth::now_ms();
    j.write(run, seq, {{"result", {{"text", result}, {"is_error", false}, {"turns", 1}}},
                       {"done", {{"status", "succeeded"}, {"exit_code", 0}, {"reason", ""}}}}, done);
  }
  std::string state() { return s.deliveries_of_run(run).at(0).state; }
};

auto said(const std::string& path_suffix, const std::string& text) {
  return [path_suffix, text](const std::vector<recorded_request>& seen) {
    for (const auto& r : seen)
      if (r.path.ends_with(path_suffix) && r.json()["text"] == text) return true;
    return false;
  };
}

TEST_CASE("outbox: a streaming chat run keeps one message up to date - the final reply replaces it", "[integration][chat]") {
  outbox_harness h;
  h.start_chat_run("slack", {{"channel", "C1"}, {"thread_ts", "1.0"}});
  h.say("Hello");
  REQUIRE(h.fake.wait_for(said("/chat.postMessage", "Hello …")));
  h.say(" world");
  REQUIRE(h.fake.wait_for(said("/chat.update", "Hello world …")));
  h.finish("Hello world");
  REQUIRE(h.fake.wait_for(said("/chat.update", "Hello world")));
  h.o->stop();
  CHECK(h.fake.requests_to("/chat.postMessage").size() == 1);  // one message, updated in place
  std::set<std::string> edited;  // every update edits the message the first post created
  for (const auto& u : h.fake.requests_to("/chat.update")) edited.insert(u.json().value("ts", ""));
  CHECK(edited.size() == 1);
  CHECK(edited.begin()->rfind("1700000000.", 0) == 0);
  CHECK(h.state() == "delivered");
}

TEST_CASE("outbox: a long telegram reply is split under the limit - its first part replaces the progress message", "[integration][chat]") {
  outbox_harness h;
  h.start_chat_run("telegram", {{"chat_id", 77}, {"reply_to", 5}});
  h.say("Thinking");
  REQUIRE(h.fake.wait_for(said("/sendMessage", "Thinking …")));
  std::string long_reply;
  for (int i = 0; i < 1000; ++i) long_reply += "word" + std::to_string(i) + " ";  // ~8.9 KB: three messages
  h.finish(long_reply);
  REQUIRE(h.fake.wait_for([](const auto& seen) {
    int sends = 0;
    for (const auto& r : seen) sends += r.path.ends_with("/sendMessage");
    return sends == 3;  // the progress message + two more parts
  }));
  h.o->stop();
  auto edits = h.fake.requests_to("/bot" + tg_token + "/editMessageText");
  auto sends = h.fake.requests_to("/bot" + tg_token + "/sendMessage");
  REQUIRE(!edits.empty());
  std::string rebuilt = edits.back().json()["text"];
  for (std::size_t i = 1; i < sends.size(); ++i) rebuilt += sends[i].json()["text"].get<std::string>();
  CHECK(rebuilt == long_reply);
  for (const auto& r : sends) CHECK(r.json()["text"].get<std::string>().size() <= 4096);
  CHECK(edits.back().json()["chat_id"] == 77);
  CHECK(sends.front().json()["reply_parameters"]["message_id"] == 5);
  CHECK(h.state() == "delivered");
}
