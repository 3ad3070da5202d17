// Warm spares that hold a started CLI (issue 16): the real Claude Code CLI in the real worker, waiting on
// stream-json input for the user's most recent session; the fake Messages API on loopback.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "docker_helpers.hpp"
#include "fake_anthropic.hpp"
#include "run_helpers.hpp"

using namespace berth::test;
using nlohmann::json;

namespace {
const std::string secret = "sk-ant-test-warm-77d0";

struct warm_env {
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", secret}}};
  berthd_process d = berthd_process({{"BERTH_SPARES", "on"},
                                     {"BERTH_ENGINES", "claude,echo"},
                                     {"BERTH_DEFAULT_ENGINE", "claude"},
                                     {"ANTHROPIC_API_KEY", secret},
                                     {"ANTHROPIC_BASE_URL", fake.base_url()}});
  api_client api{d.port(), test_key};
  std::string container(const std::string& id) { return api.get("/api/v1/runs/" + id).json()["container_id"].get<std::string>(); }
  json started(const std::string& id) {
    for (const auto& e : stored_events(api, id))
      if (e.type == "started") return e.json();
    return nullptr;
  }
  // Runs `body` on the user's spare (waited for first); returns the run's id.
  std::string on_spare(const std::string& user, json body, std::string* spare_id = nullptr) {
    const auto spare = wait_for_spare(d.instance(), user);
    REQUIRE(!spare.empty());
    if (spare_id) *spare_id = spare;
    body["user"] = user;
    auto id = api.start_run(body);
    auto done = api.wait_done(id);
    INFO(done.dump());
    CHECK(done["status"] == "succeeded");
    CHECK(container(id) == spare);
    return id;
  }
};
}  // namespace

TEST_CASE("warm cli: a follow-up in the same session goes to the CLI already waiting - the model sees the earlier turns - another session or model restarts it",
          "[integration][claude][spares]") {
  warm_env env;
  const std::string user = "warm-" + std::to_string(::getpid());
  auto first = env.api.start_run({{"user", user}, {"session", "chat-1"}, {"message", "REMEMBER-4410 @@text:2"}});
  REQUIRE(env.api.wait_done(first)["status"] == "succeeded");
  CHECK(env.started(first)["warm"] == false);

  // The spare made after it holds a CLI resumed in chat-1: the follow-up is handed to it.
  auto follow = env.on_spare(user, {{"session", "chat-1"}, {"message", "@@recall"}});
  auto s = env.started(follow);
  CHECK(s["warm"] == true);
  CHECK_FALSE(s.contains("restarted"));
  CHECK(spelled(stored_events(env.api, follow)).find("REMEMBER-4410") != std::string::npos);

  // Another session: the spare's CLI (resumed in chat-1) is replaced inside the same container.
  auto other = env.on_spare(user, {{"session", "chat-2"}, {"message", "@@recall"}});
  s = env.started(other);
  CHECK(s["warm"] == false);
  CHECK(s["restarted"] == "--session-id");  // the prepared CLI resumed chat-2's predecessor, not chat-2
  CHECK(spelled(stored_events(env.api, other)).find("REMEMBER-4410") == std::string::npos);

  // Another model, the most recent session (chat-2): restarted for the model, never run with the wrong one.
  auto model = env.on_spare(user, {{"session", "chat-2"}, {"model", "claude-warm-test-model"}, {"message", "@@text:2"}});
  s = env.started(model);
  CHECK(s["warm"] == false);
  CHECK(s["restarted"] == "--model");
  CHECK(env.fake.message_requests().back()["body"]["model"] == "claude-warm-test-model");
  // berthd first (it discards the spare it made after the last run, which mounts the workspace), then the volumes.
  env.d.terminate();
  remove_user_volumes(user);
}

TEST_CASE("warm cli: a spare whose CLI was killed is not handed out", "[integration][claude][spares]") {
  warm_env env;
  const std::string user = "warmkill-" + std::to_string(::getpid());
  REQUIRE(env.api.wait_done(env.api.start_run({{"user", user}, {"message", "@@text:2"}}))["status"] == "succeeded");
  const auto spare = wait_for_spare(env.d.instance(), user);
  REQUIRE(!spare.empty());
  // Kill the waiting CLI inside the spare (its processes run as the worker's user, as the exec does). The spare
  // is listed once its container runs, which may be before its worker has started the CLI: until one is killed.
  const std::string kill = "docker exec " + spare +
                           " sh -c 'k=1; for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = claude ] && kill -9 ${p#/proc/} && k=0; done; exit $k'"
                           " >/dev/null 2>&1";
  // The worker ends as soon as its CLI dies, taking the exec's shell with it: an exec that did not get to report
  // its kill counts when the spare is gone.
  REQUIRE(eventually([&] { return std::system(kill.c_str()) == 0 || spares_of(env.d.instance(), user).empty(); }));
  // The worker notices and ends: the spare is gone (exited), and the next run gets a fresh container.
  CHECK(eventually([&] { return spares_of(env.d.instance(), user).empty(); }));
  auto id = env.api.start_run({{"user", user}, {"message", "@@text:2"}});
  CHECK(env.api.wait_done(id)["status"] == "succeeded");
  CHECK(env.container(id) != spare);
  env.d.terminate();
  remove_user_volumes(user);
}
