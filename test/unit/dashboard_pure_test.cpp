// The dashboard's pure parts: login sessions, cookies, the cross-site check, routes, time filters, host facts.
#include <catch2/catch.hpp>

#include <set>

#include "common/strings.hpp"
#include "server/http/dashboard_auth.hpp"
#include "server/http/router.hpp"
#include "server/http/routes.hpp"
#include "server/http/dashboard_handlers.hpp"
#include "server/runs/host_facts.hpp"

using namespace berth::http;

TEST_CASE("dashboard sessions: found until they expire - removed by logout") {
  session_table t;
  auto [token, s] = t.create(1000, 500);
  CHECK(token.size() == 64);
  CHECK(s.csrf.size() == 64);
  CHECK(s.csrf != token);
  REQUIRE(t.find(token, 1499));
  CHECK(t.find(token, 1499)->csrf == s.csrf);
  CHECK_FALSE(t.find(token, 1500));  // expired
  CHECK_FALSE(t.find(token, 1000));  // and gone for good
  auto [other, s2] = t.create(2000, 500);
  CHECK(t.find(other, 2001));
  t.remove(other);
  CHECK_FALSE(t.find(other, 2001));
  CHECK_FALSE(t.find("", 2001));
  CHECK_FALSE(t.find(std::string(64, '0'), 2001));
}

TEST_CASE("dashboard sessions: the table is bounded - the session closest to expiry gives way") {
  session_table t(nullptr, 3);
  auto a = t.create(0, 100).first;
  auto b = t.create(0, 300).first;
  auto c = t.create(0, 200).first;
  auto d = t.create(0, 400).first;
  CHECK(t.size() == 3);
  CHECK_FALSE(t.find(a, 1));
  CHECK(t.find(b, 1));
  CHECK(t.find(c, 1));
  CHECK(t.find(d, 1));
}

TEST_CASE("dashboard sessions: tokens are random") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(random_token());
  CHECK(seen.size() == 200);
  for (const auto& t : seen) CHECK(t.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("cookies: value lookup and Set-Cookie flags") {
  CHECK(cookie_value("a=1; berth_session=abc; b=2", "berth_session") == "abc");
  CHECK(cookie_value("berth_session=xyz", "berth_session") == "xyz");
  CHECK(cookie_value("xberth_session=no; other=1", "berth_session").empty());
  CHECK(cookie_value("", "berth_session").empty());
  auto c = session_cookie("tok", 60, false);
  CHECK(c == "berth_session=tok; Path=/dashboard; Max-Age=60; HttpOnly; SameSite=Strict");
  CHECK(session_cookie("tok", 60, true).ends_with("; Secure"));
  CHECK(clearing_cookie(false).find("Max-Age=0") != std::string::npos);
}

TEST_CASE("cross-site requests are told apart from same-site ones") {
  CHECK(same_site_request("", "berth.example", ""));  // curl, or a browser's same-origin GET
  CHECK(same_site_request("http://127.0.0.1:3000", "127.0.0.1:3000", "same-origin"));
  CHECK_FALSE(same_site_request("https://berth.example", "berth.example:8080", ""));  // another port, another origin
  CHECK_FALSE(same_site_request("http://127.0.0.1:3001", "127.0.0.1:3000", ""));
  CHECK(same_site_request("http://127.0.0.1", "127.0.0.1:80", ""));
  CHECK(same_site_request("https://berth.example:8443", "berth.example", ""));  // a proxy forwarded only $host
  CHECK(same_site_request("https://BERTH.example", "berth.example", ""));
  CHECK_FALSE(same_site_request("https://evil.example", "berth.example", ""));
  CHECK_FALSE(same_site_request("null", "berth.example", ""));
  CHECK(same_site_request("null", "berth.example", "same-origin"));
  CHECK_FALSE(same_site_request("", "berth.example", "cross-site"));
  CHECK_FALSE(same_site_request("http://[::1]:80", "[::2]:80", ""));
}

namespace {
route_match dmatch(std::string_view method, std::string_view target) { return match_route(routes(), method, target); }
}  // namespace

TEST_CASE("router: dashboard paths") {
  CHECK(dmatch("GET", "/dashboard").row->handler == dashboard_page);
  CHECK(dmatch("GET", "/dashboard/").row->handler == dashboard_page);
  CHECK(dmatch("GET", "/dashboard/login").row->handler == dashboard_login_form);
  CHECK(dmatch("POST", "/dashboard/login").row->handler == dashboard_login);
  CHECK(dmatch("POST", "/dashboard/logout").row->handler == dashboard_logout);
  CHECK(dmatch("GET", "/dashboard/logout").result == match_result::method_not_allowed);
  CHECK(dmatch("GET", "/dashboard/api/events").row->handler == dashboard_events);
  CHECK(dmatch("GET", "/dashboard/api/overview").row->handler == dashboard_overview_json);
  auto runs = dmatch("GET", "/dashboard/api/runs?status=failed&user=bo");
  CHECK(runs.row->handler == dashboard_runs);
  CHECK(runs.query["status"] == "failed");
  auto one = dmatch("GET", "/dashboard/api/runs/R1");
  CHECK(one.row->handler == dashboard_run);
  CHECK(one.param == "R1");
  CHECK(dmatch("GET", "/dashboard/api/runs/R1/events").row->handler == dashboard_run_events);
  CHECK(dmatch("DELETE", "/dashboard/api/runs/R1").row->handler == dashboard_run_cancel);
  CHECK(dmatch("POST", "/dashboard/api/runs/R1").result == match_result::method_not_allowed);
  CHECK(dmatch("GET", "/dashboard/api/runs/R1/other").result == match_result::not_found);
  auto asset = dmatch("GET", "/dashboard/assets/app.js");
  CHECK(asset.row->handler == dashboard_asset);
  CHECK(asset.param == "app.js");
}

TEST_CASE("time filters: unix milliseconds or RFC 3339 UTC") {
  using berth::parse_time_ms;
  CHECK(parse_time_ms("1764547200000") == 1764547200000);
  CHECK(parse_time_ms("2025-12-01T00:00:00Z") == 1764547200000);
  CHECK(parse_time_ms("2025-12-01T00:00:00.250Z") == 1764547200250);
  CHECK(parse_time_ms("2025-12-01T00:00") == 1764547200000);
  CHECK(parse_time_ms(berth::format_time_ms(1764547212345)) == 1764547212345);
  CHECK_FALSE(parse_time_ms(""));
  CHECK_FALSE(parse_time_ms("yesterday"));
  CHECK_FALSE(parse_time_ms("2025-13-01T00:00:00Z"));
  CHECK_FALSE(parse_time_ms("2025-12-01T00:00:00+02:00"));
}

TEST_CASE("host facts: /proc parsers") {
  std::array<double, 3> load{};
  REQUIRE(berth::runs::parse_loadavg("0.52 1.50 2.00 1/345 12345\n", load));
  CHECK(load[0] == Approx(0.52));
  CHECK(load[2] == Approx(2.0));
  CHECK_FALSE(berth::runs::parse_loadavg("garbage", load));
  std::string mem = "MemTotal:       24684084 kB\nMemFree:        1000 kB\nMemAvailable:   2000 kB\n";
  CHECK(berth::runs::parse_kib_field(mem, "MemTotal") == 24684084LL * 1024);
  CHECK(berth::runs::parse_kib_field(mem, "MemAvailable") == 2000 * 1024);
  CHECK(berth::runs::parse_kib_field(mem, "Mem") == -1);
  CHECK(berth::runs::parse_kib_field(mem, "Swap") == -1);
  auto real = berth::runs::read_host_facts();
  CHECK(real.mem_total_bytes > 0);
  CHECK(real.berthd_rss_bytes > 0);
  CHECK(real.cpus > 0);
}
