// The dashboard over real sockets against the real dockerd: who sees what (anonymous, wrong key, forged
// cookie, logged in), the cookie opening the event streams (EventSource sends no headers), CSRF on every
// state-changing request, logout ending the session and its open stream, and untrusted run text served only
// as JSON data. The browser itself is exercised by test/browser/dashboard_test.cjs.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "run_helpers.hpp"

using namespace berth::test;
using nlohmann::json;

namespace {
const std::map<std::string, std::string> form = {{"Content-Type", "application/x-www-form-urlencoded"}};

std::map<std::string, std::string> with_form(std::map<std::string, std::string> extra) {
  extra.insert(form.begin(), form.end());
  return extra;
}

// The CSRF token the page is rendered with.
std::string csrf_of(api_client& anon, const std::string& cookie) {
  auto page = anon.get("/dashboard", {{"Cookie", cookie}});
  REQUIRE(page.status == 200);
  const std::string marker = "name=\"csrf-token\" content=\"";
  auto pos = page.body.find(marker);
  REQUIRE(pos != std::string::npos);
  return page.body.substr(pos + marker.size(), 64);
}

bool mentions(const json& overview, const std::string& id) {
  for (const char* list : {"active", "queue", "recent"})
    for (const auto& r : overview[list])
      if (r["id"] == id) return true;
  return false;
}
}  // namespace

TEST_CASE("dashboard: anonymous and wrong-key visitors see no data", "[integration][dashboard]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  api_client anon(d.port());
  auto id = api.start_run({{"user", "alice"}, {"message", "secret-marker words"}});
  REQUIRE(api.wait_done(id)["status"] == "succeeded");

  auto page = anon.get("/dashboard");
  CHECK(page.status == 303);
  CHECK(page.header("Location") == "/dashboard/login");
  auto form_page = anon.get("/dashboard/login");
  CHECK(form_page.status == 200);
  CHECK(form_page.body.find("name=\"key\"") != std::string::npos);
  CHECK(form_page.header("Content-Security-Policy").find("script-src 'self'") != std::string::npos);

  auto wrong = anon.post("/dashboard/login", "key=not-the-key-0123456789", form);
  CHECK(wrong.status == 401);
  CHECK(wrong.body.find("That key is not valid.") != std::string::npos);
  CHECK(wrong.body.find("name=\"key\"") != std::string::npos);  // the form again
  CHECK(wrong.header("Set-Cookie").empty());
  CHECK(d.log().find("not-the-key-0123456789") == std::string::npos);  // a tried key is never logged

  // The key only ever travels in the form body: one in the URL logs nobody in.
  CHECK(anon.post("/dashboard/login?key=" + test_key, "", form).status == 401);
  CHECK(anon.post("/dashboard/login", json{{"key", test_key}}.dump()).status == 415);

  const std::string forged = "berth_session=" + std::string(64, 'a');
  for (const std::string& path : std::vector<std::string>{"/dashboard/api/overview", "/dashboard/api/runs", "/dashboard/api/runs/" + id,
                                  "/dashboard/api/runs/" + id + "/events", "/dashboard/api/events"}) {
    INFO(path);
    for (const auto& headers : std::vector<std::map<std::string, std::string>>{
             {}, {{"Cookie", forged}}, {{"X-API-Key", test_key}}}) {
      auto r = anon.get(path, headers);
      CHECK(r.status == 401);
      CHECK(r.body.find(id) == std::string::npos);
      CHECK(r.body.find("secret-marker") == std::string::npos);
    }
  }
  CHECK(anon.get("/dashboard", {{"Cookie", forged}}).status == 303);
  // …and a dashboard cookie is not an API credential (the API stays header-only, so it needs no CSRF defence).
  auto cookie = anon.dashboard_login(test_key);
  CHECK(anon.get("/api/v1/runs", {{"Cookie", cookie}}).status == 401);
}

TEST_CASE("dashboard: a login cookie opens the data endpoints and both event streams", "[integration][dashboard]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  api_client anon(d.port());

  auto r = anon.post("/dashboard/login", "key=" + test_key, form);
  REQUIRE(r.status == 303);
  auto set = r.header("Set-Cookie");
  CHECK(set.find("HttpOnly") != std::string::npos);
  CHECK(set.find("SameSite=Strict") != std::string::npos);
  CHECK(set.find("Path=/dashboard") != std::string::npos);
  CHECK(set.find("Secure") == std::string::npos);
  auto behind_tls = anon.post("/dashboard/login", "key=" + test_key, with_form({{"X-Forwarded-Proto", "https"}}));
  CHECK(behind_tls.header("Set-Cookie").find("; Secure") != std::string::npos);
  auto cookie = anon.dashboard_login(test_key);
  CHECK(anon.get("/dashboard/login", {{"Cookie", cookie}}).status == 303);  // already logged in

  // The overview is pushed: a run started while the stream is open shows up in a later snapshot.
  std::string id;
  int snapshots = 0;
  auto overview = anon.stream("GET", "/dashboard/api/events", "", {{"Cookie", cookie}}, [&](const sse_event& e) {
    if (e.type != "overview") return true;
    ++snapshots;
    auto j = e.json();
    if (id.empty()) {
      CHECK(j["engine"]["ok"] == true);
      CHECK(j["host"]["mem_total_bytes"].get<long long>() > 0);
      CHECK(j.contains("counts"));
      CHECK(j["uptime_s"].is_number());
      id = api.start_run({{"user", "bob"}, {"message", "pushed to the overview"}, {"options", {{"delay_ms", 50}}}});
      return true;
    }
    return !mentions(j, id);
  });
  CHECK(overview.status == 200);
  REQUIRE(!id.empty());
  CHECK(snapshots >= 2);

  // The run's own stream, replay and resume, with the cookie.
  auto events = anon.stream("GET", "/dashboard/api/runs/" + id + "/events", "", {{"Cookie", cookie}});
  REQUIRE(events.status == 200);
  REQUIRE(!events.events.empty());
  CHECK(events.events.back().type == "done");
  CHECK(spelled(events.events) == "pushed to the overview");
  auto resumed = anon.stream("GET", "/dashboard/api/runs/" + id + "/events", "", {{"Cookie", cookie}, {"Last-Event-ID", "3"}});
  REQUIRE(!resumed.events.empty());
  CHECK(resumed.events.front().id == 4);

  auto one = anon.get("/dashboard/api/runs/" + id, {{"Cookie", cookie}});
  CHECK(one.status == 200);
  CHECK(one.json()["message"] == "pushed to the overview");
  auto list = anon.get("/dashboard/api/runs?user=bob&status=succeeded", {{"Cookie", cookie}});
  REQUIRE(list.status == 200);
  REQUIRE(list.json()["runs"].size() == 1);
  CHECK(list.json()["runs"][0]["id"] == id);
  CHECK(anon.get("/dashboard/api/runs?user=nobody", {{"Cookie", cookie}}).json()["runs"].empty());
  CHECK(anon.get("/dashboard/api/runs?since=2999-01-01T00:00:00Z", {{"Cookie", cookie}}).json()["runs"].empty());
  CHECK(anon.get("/dashboard/api/runs?until=2000-01-01T00:00:00Z", {{"Cookie", cookie}}).json()["runs"].empty());
  CHECK(anon.get("/dashboard/api/runs?since=1000", {{"Cookie", cookie}}).json()["runs"].size() == 1);
  auto bad = anon.get("/dashboard/api/runs?since=yesterday", {{"Cookie", cookie}});
  CHECK(bad.status == 400);
  CHECK(bad.json()["error"]["code"] == "invalid_query");
}

TEST_CASE("dashboard: cancel and logout need the CSRF token and a same-site origin", "[integration][dashboard]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  api_client anon(d.port());
  auto cookie = anon.dashboard_login(test_key);
  auto csrf = csrf_of(anon, cookie);
  auto id = api.start_run({{"user", "carol"}, {"engine", "script"}, {"message", "wait"}, {"options", {{"scenario", "silent"}}}});
  const std::string path = "/dashboard/api/runs/" + id;

  CHECK(anon.del(path, {{"Cookie", cookie}}).status == 403);
  CHECK(anon.del(path, {{"Cookie", cookie}, {"X-CSRF-Token", std::string(64, '0')}}).status == 403);
  auto cross = anon.del(path, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", "https://evil.example"}});
  CHECK(cross.status == 403);
  CHECK(cross.json()["error"]["code"] == "cross_site");
  CHECK(anon.del(path, {{"X-CSRF-Token", csrf}}).status == 401);  // the token alone is not a login
  REQUIRE(api.get("/api/v1/runs/" + id).json()["status"] != "cancelled");

  auto ok = anon.del(path, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", "http://127.0.0.1:" + std::to_string(d.port())}});
  CHECK((ok.status == 200 || ok.status == 202));
  CHECK(api.wait_done(id)["status"] == "cancelled");
  CHECK(d.log().find("run cancelled from the dashboard") != std::string::npos);

  // A cross-site login form is refused too (login CSRF).
  CHECK(anon.post("/dashboard/login", "key=" + test_key, with_form({{"Origin", "https://evil.example"}})).status == 403);

  // Logout: needs the token, ends the session, clears the cookie, and ends the session's open overview stream.
  sse_stream open;
  std::promise<void> connected;
  std::thread follower([&] {
    bool first = true;
    open = anon.stream("GET", "/dashboard/api/events", "", {{"Cookie", cookie}}, [&](const sse_event&) {
      if (first) connected.set_value();
      first = false;
      return true;
    });
    if (first) connected.set_value();  // refused: let the main thread go on and fail below
  });
  connected.get_future().wait();
  CHECK(anon.post("/dashboard/logout", "", with_form({{"Cookie", cookie}})).status == 403);
  auto out = anon.post("/dashboard/logout", "csrf=" + csrf, with_form({{"Cookie", cookie}}));
  CHECK(out.status == 303);
  CHECK(out.header("Location") == "/dashboard/login");
  CHECK(out.header("Set-Cookie").find("Max-Age=0") != std::string::npos);
  follower.join();
  REQUIRE(!open.events.empty());
  CHECK(open.events.back().type == "logout");
  CHECK(anon.get("/dashboard/api/overview", {{"Cookie", cookie}}).status == 401);
  CHECK(anon.get("/dashboard", {{"Cookie", cookie}}).status == 303);
}

TEST_CASE("dashboard: run text with markup is served only as JSON data - pages and assets are fixed", "[integration][dashboard]") {
  berthd_process d;
  api_client api(d.port(), test_key);
  api_client anon(d.port());
  auto cookie = anon.dashboard_login(test_key);
  const std::string hostile = "<script>window.pwned=1</script> <img src=x onerror=alert(1)> & \"quoted\"";
  auto id = api.start_run({{"user", "mallory"}, {"message", hostile}});
  REQUIRE(api.wait_done(id)["status"] == "succeeded");

  auto page = anon.get("/dashboard", {{"Cookie", cookie}});
  CHECK(page.body.find("pwned") == std::string::npos);  // no run data is ever rendered into HTML
  auto run = anon.get("/dashboard/api/runs/" + id, {{"Cookie", cookie}});
  CHECK(run.header("Content-Type") == "application/json");
  CHECK(run.header("X-Content-Type-Options") == "nosniff");
  CHECK(run.json()["message"] == hostile);
  auto events = anon.stream("GET", "/dashboard/api/runs/" + id + "/events", "", {{"Cookie", cookie}});
  CHECK(spelled(events.events) == hostile);

  auto js = anon.get("/dashboard/assets/app.js");
  CHECK(js.status == 200);
  CHECK(js.header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(js.body.find("innerHTML") == std::string::npos);
  CHECK(js.body.find("insertAdjacentHTML") == std::string::npos);
  CHECK(anon.get("/dashboard/assets/app.css").header("Content-Type") == "text/css; charset=utf-8");
  CHECK(anon.get("/dashboard/assets/index.html").status == 404);  // pages only through their routes
  CHECK(anon.get("/dashboard/assets/nope.js").status == 404);
  CHECK(anon.get("/dashboard/assets/../../etc/passwd").status == 404);
}
