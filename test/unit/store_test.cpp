#include <catch2/catch.hpp>

#include "common/event.hpp"
#include "common/ids.hpp"
#include "server/store/backup.hpp"
#include "server/store/store.hpp"
#include "server/store/sqlite/sqlite_database.hpp"

#include <filesystem>
#include <functional>

#include "pg_scratch.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>

using namespace berth;
using namespace berth::store;

namespace {
run_record make_run(const std::string& id, const std::string& user) {
  run_record r;
  r.id = id;
  r.user = user;
  r.engine = "echo";
  r.message = "hello";
  r.status = "queued";
  r.created_at = 1000;
  r.last_seq = 1;
  return r;
}
event ev(const std::string& run, std::int64_t seq, const std::string& type) {
  return {run, seq, type, event_data(run, nlohmann::json{{"n", seq}}), 1000 + seq};
}
// Runs `body` on a fresh store of each database this test run has: SQLite always, PostgreSQL when the
// `postgres` fixture names one (tests tagged [postgres] are registered with it).
void on_each_backend(const std::function<void(berth::store::store&)>& body) {
  {
    INFO("sqlite");
    berth::store::store s(":memory:");
    body(s);
  }
  if (berth::test::test_database_url().empty()) return;
  INFO("postgresql");
  berth::test::scratch_database db;
  berth::store::store s(db.url());
  body(s);
}
}  // namespace

TEST_CASE("store: schema is migrated to the latest version") {
  store::store s(":memory:");
  CHECK(s.schema_version() == sqlite::latest_schema_version());
  CHECK(s.ping());
}

TEST_CASE("store: runs - events and progress change together", "[postgres]") {
  on_each_backend([&](berth::store::store& s) {
    auto id = make_run_id(1, 2, 3);
    s.insert_run(make_run(id, "alice"), ev(id, 1, "status"));
    run_update u;
    u.status = "running";
    u.stdout_offset = 42;
    s.commit(id, {ev(id, 2, "text"), ev(id, 3, "text")}, u);
    auto r = s.get_run(id);
    REQUIRE(r);
    CHECK(r->status == "running");
    CHECK(r->last_seq == 3);
    CHECK(r->stdout_offset == 42);
    auto evs = s.events_after(id, 1, 100);
    REQUIRE(evs.size() == 2);
    CHECK(evs[0].seq == 2);
    CHECK(evs[1].type == "text");
    CHECK(s.events_after(id, 3, 100).empty());
  });
}

TEST_CASE("store: a sequence gap is refused and nothing of the batch is kept", "[postgres]") {
  on_each_backend([&](berth::store::store& s) {
    auto id = make_run_id(1, 2, 3);
    s.insert_run(make_run(id, "alice"), ev(id, 1, "status"));
    run_update u;
    u.status = "running";
    CHECK_THROWS(s.commit(id, {ev(id, 2, "text"), ev(id, 4, "text")}, u));
    CHECK(s.get_run(id)->status == "queued");
    CHECK(s.get_run(id)->last_seq == 1);
    CHECK(s.events_after(id, 0, 100).size() == 1);
  });
}

TEST_CASE("store: listing filters by user and status - newest first - pages with before", "[postgres]") {
  on_each_backend([&](berth::store::store& s) {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
      ids.push_back(make_run_id(1000 + i, 0, static_cast<std::uint64_t>(i)));
      s.insert_run(make_run(ids.back(), i % 2 ? "bob" : "alice"), ev(ids.back(), 1, "status"));
    }
    auto all = s.list_runs({});
    REQUIRE(all.size() == 5);
    CHECK(all.front().id == ids[4]);
    auto alice = s.list_runs({.user = "alice", .limit = 50});
    CHECK(alice.size() == 3);
    auto page = s.list_runs({.before = ids[2], .limit = 50});
    REQUIRE(page.size() == 2);
    CHECK(page[0].id == ids[1]);
    CHECK(s.list_runs({.status = "running", .limit = 50}).empty());
    CHECK(s.runs_in_status({"queued"}).front().id == ids[0]);
  });
}

TEST_CASE("store: chat events are claimed once - an abandoned claim can be taken again", "[postgres]") {
  on_each_backend([&](berth::store::store& s) {
    CHECK(s.claim_chat_event("slack", "Ev1", 1000));
    CHECK_FALSE(s.claim_chat_event("slack", "Ev1", 1001));   // a retry while the first is being handled
    CHECK(s.claim_chat_event("telegram", "Ev1", 1001));       // sources are separate
    // No run was ever linked (berthd died between claim and submit): after the grace, a retry takes it.
    CHECK_FALSE(s.claim_chat_event("slack", "Ev1", 1000 + store::abandoned_claim_ms - 1));
    CHECK(s.claim_chat_event("slack", "Ev1", 1000 + store::abandoned_claim_ms + 1));
    // Once linked to a run, never again.
    s.link_chat_event("slack", "Ev1", "RUN1");
    CHECK_FALSE(s.claim_chat_event("slack", "Ev1", 10 * store::abandoned_claim_ms));
  });
}

TEST_CASE("store: meta values persist", "[postgres]") {
  on_each_backend([&](berth::store::store& s) {
    CHECK(s.meta("instance").empty());
    s.set_meta("instance", "abc");
    s.set_meta("instance", "def");
    CHECK(s.meta("instance") == "def");
  });
}

TEST_CASE("store: an online backup holds every committed run while the store stays open") {
  auto dir = std::filesystem::temp_directory_path() / ("berth-backup-" + new_run_id());
  std::filesystem::create_directories(dir);
  {
    berth::store::store s((dir / "berth.db").string());
    auto id = new_run_id();
    s.insert_run(make_run(id, "alice"), ev(id, 1, "status"));
    berth::store::backup_database((dir / "berth.db").string(), (dir / "copy.db").string());
    berth::store::store copy((dir / "copy.db").string());
    auto r = copy.get_run(id);
    REQUIRE(r.has_value());
    CHECK(r->user == "alice");
    CHECK(s.get_run(id).has_value());  // the source is still usable
    CHECK_THROWS_WITH(berth::store::backup_database((dir / "missing.db").string(), (dir / "x.db").string()),
                      Catch::Contains("backup of"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("store: a database from a newer berth is refused - not silently used") {
  auto dir = std::filesystem::temp_directory_path() / ("berth-store-" + new_run_id());
  std::filesystem::create_directories(dir);
  auto path = (dir / "berth.db").string();
  { berth::store::store s(path); }
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec("PRAGMA user_version = 99");
  }
  try {
    berth::store::store s(path);
    FAIL("a schema from the future was accepted");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("newer than this berthd") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("store: lists carry a message preview - not the whole message", "[postgres]") {
  on_each_backend([&](berth::store::store& s) {
    auto r = make_run(new_run_id(), "alice");
    r.message = std::string(200000, 'm');
    s.insert_run(r, event{r.id, 1, "status", "{}", 1000});
    run_filter f;
    f.limit = 10;
    auto rows = s.list_runs(f);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].message.size() == 256);
    CHECK(s.get_run(r.id)->message.size() == 200000);
  });
}

TEST_CASE("store: the WAL shrinks back to its limit once a long reader lets go") {
  // A reader holding a snapshot (a slow SSE replay, a backup) keeps the WAL from being reset, so it grows past
  // journal_size_limit (64 MiB); when the reader is gone the next checkpoint resets it and the file is cut back.
  auto dir = std::filesystem::temp_directory_path() / ("berth-wal-" + new_run_id());
  std::filesystem::create_directories(dir);
  const auto db = (dir / "berth.db").string();
  const auto wal_bytes = [&] { return std::filesystem::file_size(db + "-wal"); };
  constexpr std::uintmax_t limit = 64ull << 20;
  {
    berth::store::store s(db);
    auto write_runs = [&](int n) {
      for (int i = 0; i < n; ++i) {
        auto r = make_run(new_run_id(), "alice");
        r.message = std::string(1 << 20, 'm');
        s.insert_run(r, ev(r.id, 1, "status"));
      }
    };
    {
      SQLite::Database reader(db, SQLite::OPEN_READONLY);
      SQLite::Transaction snapshot(reader);  // deferred: the first read below takes the snapshot
      SQLite::Statement q(reader, "SELECT count(*) FROM runs");
      REQUIRE(q.executeStep());
      write_runs(90);
      CHECK(wal_bytes() > limit);
    }
    write_runs(8);  // crosses the autocheckpoint; with no reader left the WAL is reset and truncated
    CHECK(wal_bytes() <= limit);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("store: user settings by kind - spend added with a run's usage - per user and day", "[postgres]") {
  on_each_backend([&](berth::store::store& s) {
    s.set_user_setting("alice", "budget", R"({"tokens_per_day":100})", 1);
    s.set_user_setting("alice", "budget", R"({"tokens_per_day":200})", 2);  // replaced, not added
    s.set_user_setting("bob", "budget", R"({"usd_per_day":1})", 3);
    s.set_user_setting("bob", "tools", R"({})", 3);
    CHECK(s.user_setting("alice", "budget") == R"({"tokens_per_day":200})");
    CHECK_FALSE(s.user_setting("carol", "budget"));
    auto budgets = s.user_settings_of("budget");
    REQUIRE(budgets.size() == 2);
    CHECK(budgets[0].first == "alice");
    CHECK(s.delete_user_setting("bob", "budget"));
    CHECK_FALSE(s.delete_user_setting("bob", "budget"));
    CHECK(s.user_setting("bob", "tools"));

    auto a = make_run_id(1, 2, 3), b = make_run_id(1, 2, 4);
    s.insert_run(make_run(a, "alice"), ev(a, 1, "status"));
    s.insert_run(make_run(b, "alice"), ev(b, 1, "status"));
    run_update u;
    u.spend = spend_delta{"2026-12-04", 120, 3000};
    s.commit(a, {}, u);
    u.spend = spend_delta{"2026-12-04", 30, 500};
    s.commit(b, {}, u);
    u.spend = spend_delta{"2026-12-05", 7, 1};
    s.commit(a, {}, u);
    auto day = s.spend_on("2026-12-04");
    REQUIRE(day.size() == 1);
    CHECK(day[0].user == "alice");
    CHECK(day[0].tokens == 150);
    CHECK(day[0].cost_micros == 3500);
    CHECK(s.spend_on("2026-12-05")[0].tokens == 7);
    CHECK(s.spend_on("2026-12-03").empty());
  });
}
