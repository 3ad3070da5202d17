// Budgets and prices: the pure rules, and the ledger the gateway and the run manager check, over a store.
#include <catch2/catch.hpp>

#include "common/prices.hpp"
#include "common/strings.hpp"
#include "server/runs/budgets.hpp"
#include "server/runs/spend_ledger.hpp"
#include "server/store/store.hpp"

using namespace berth;
using nlohmann::json;

TEST_CASE("budgets: parsed strictly - either limit - null is none - nothing else") {
  std::string why;
  auto b = runs::parse_budget(json{{"tokens_per_day", 5000}, {"usd_per_day", 2.5}}, why);
  REQUIRE(b);
  CHECK(b->tokens_per_day == 5000);
  CHECK(b->usd_micros_per_day == 2'500'000);
  CHECK(runs::budget_json(*b) == json{{"tokens_per_day", 5000}, {"usd_per_day", 2.5}});
  auto t = runs::parse_budget(json{{"tokens_per_day", 10}, {"usd_per_day", nullptr}}, why);
  REQUIRE(t);
  CHECK_FALSE(t->usd_micros_per_day);
  for (const auto& bad : {json::array(), json::object(), json{{"tokens_per_day", 0}}, json{{"tokens_per_day", -1}},
                          json{{"tokens_per_day", 1.5}}, json{{"tokens_per_day", "10"}}, json{{"usd_per_day", 0}},
                          json{{"usd_per_day", 1e9}}, json{{"tokens", 10}}, json{{"tokens_per_day", nullptr}}}) {
    INFO(bad.dump());
    why.clear();
    CHECK_FALSE(runs::parse_budget(bad, why));
    CHECK_FALSE(why.empty());
  }
}

TEST_CASE("budgets: a limit is reached at its value - the reason names it - days are UTC") {
  runs::budget b{.tokens_per_day = 1000, .usd_micros_per_day = 2'000'000};
  CHECK(runs::budget_breach(b, {999, 1'999'999}).empty());
  CHECK(runs::budget_breach(b, {1000, 0}) == "tokens_per_day 1000 reached (1000 used today)");
  CHECK(runs::budget_breach(b, {10, 2'000'000}) == "usd_per_day 2 reached (2 spent today)");
  CHECK(runs::budget_breach({}, {1'000'000, 1'000'000}).empty());
  const auto t = *parse_time_ms("2026-12-04T23:59:59.999Z");
  CHECK(runs::utc_day(t) == "2026-12-04");
  CHECK(runs::next_utc_midnight_ms(t) == *parse_time_ms("2026-12-05T00:00:00.000Z"));
  CHECK(runs::utc_day(t + 1) == "2026-12-05");
  CHECK(runs::next_utc_midnight_ms(t + 1) == *parse_time_ms("2026-12-06T00:00:00.000Z"));
}

TEST_CASE("prices: longest prefix wins - * for the rest - malformed lists are refused") {
  std::string why;
  auto t = parse_prices(default_prices, why);
  REQUIRE(t);
  usage u{.input_tokens = 1'000'000, .output_tokens = 1'000'000, .cache_read_input_tokens = 1'000'000, .cache_creation_input_tokens = 1'000'000};
  CHECK(cost_micro_usd(*t, "claude-opus-4-5-20251101", u) == 36'750'000);    // 5 + 25 + 0.5 + 6.25 USD
  CHECK(cost_micro_usd(*t, "claude-opus-4-1-20250805", u) == 110'250'000);   // 15 + 75 + 1.5 + 18.75
  CHECK(cost_micro_usd(*t, "claude-sonnet-4-5", u) == 22'050'000);           // 3 + 15 + 0.3 + 3.75
  CHECK(cost_micro_usd(*t, "some-other-model", u) == 22'050'000);            // *
  CHECK(cost_micro_usd(*t, "claude-sonnet-4-5", usage{.input_tokens = 1}) == 3);  // 3 USD per million: 3 micro-USD
  auto only = parse_prices("claude-x=1/2/0/0", why);
  REQUIRE(only);
  CHECK(cost_micro_usd(*only, "gpt", u) == 0);  // no entry matches: not priced
  CHECK(total_tokens(u) == 4'000'000);
  for (const char* bad : {"claude=1/2/3", "claude=1/2/3/x", "=1/2/3/4", "claude=1/2/3/-4", "a=1/1/1/1,a=2/2/2/2", "claude"}) {
    INFO(bad);
    CHECK_FALSE(parse_prices(bad, why));
  }
  CHECK(parse_prices("", why)->empty());
}

TEST_CASE("spend ledger: counts this node's spend at once - the store's at refresh - budgets from the store") {
  store::store db(":memory:");
  db.set_user_setting("alice", "budget", R"({"tokens_per_day":100})", 1);
  runs::spend_ledger ledger(db);
  ledger.refresh();
  const auto now = now_ms();
  CHECK_FALSE(ledger.check("alice", now));
  ledger.add("alice", {60, 10}, now);
  CHECK_FALSE(ledger.check("alice", now));
  ledger.add("alice", {40, 10}, now);
  auto over = ledger.check("alice", now);
  REQUIRE(over);
  CHECK(over->reason == "user alice is over budget: tokens_per_day 100 reached (100 used today)");
  CHECK(over->resets_at_ms == runs::next_utc_midnight_ms(now));
  CHECK_FALSE(ledger.check("bob", now));  // no budget, no limit
  ledger.add("bob", {1'000'000, 0}, now);
  CHECK_FALSE(ledger.check("bob", now));

  // Another instance stored more for bob; this node's unstored count for alice is kept.
  auto run = std::string("01TESTRUN0000000000000000A");
  store::run_record r;
  r.id = run;
  r.user = "bob";
  r.engine = "echo";
  r.message = "m";
  r.status = "queued";
  r.created_at = now;
  r.last_seq = 1;
  db.insert_run(r, {run, 1, "status", "{}", now});
  store::run_update u;
  u.spend = store::spend_delta{runs::utc_day(now), 2'000'000, 7};
  db.commit(run, {}, u);
  ledger.refresh();
  auto today = ledger.today(now);
  CHECK(today["bob"].tokens == 2'000'000);
  CHECK(today["alice"].tokens == 100);
  // A budget set through the API applies at once; removed, it no longer limits.
  ledger.set_budget("bob", runs::budget{.tokens_per_day = 1'500'000});
  CHECK(ledger.check("bob", now));
  ledger.set_budget("bob", std::nullopt);
  CHECK_FALSE(ledger.check("bob", now));
  // A new UTC day starts from nothing.
  const auto tomorrow = runs::next_utc_midnight_ms(now) + 1;
  CHECK_FALSE(ledger.check("alice", tomorrow));
  CHECK(ledger.today(tomorrow).empty());
}
