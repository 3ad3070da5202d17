// What several instances share through the store: claims under caps, leases and adoption, the write fence,
// logins, outbox claims and announcements. Tagged [postgres]: registered with the `postgres` fixture and run
// against SQLite and a real PostgreSQL 15 (two nodes = two stores on one database).
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "common/event.hpp"
#include "common/ids.hpp"
#include "pg_scratch.hpp"
#include "server/store/claim_plan.hpp"
#include "server/store/copy_history.hpp"
#include "server/store/postgres/pg_listener.hpp"
#include "server/store/store.hpp"

using namespace berth;
using berth::store::run_record;

namespace {
run_record queued_run(const std::string& user, std::int64_t n) {
  run_record r;
  r.id = make_run_id(1000 + n, 0, static_cast<std::uint64_t>(n));
  r.user = user;
  r.engine = "echo";
  r.message = "m";
  r.status = "queued";
  r.created_at = 1000 + n;
  r.last_seq = 1;
  return r;
}
event first_event(const std::string& run) { return {run, 1, "status", "{}", 1}; }

// Two stores on one database: two nodes. SQLite (one file) serves where the test is about one node.
void on_each_backend(const std::function<void(const std::string& url)>& body) {
  {
    INFO("sqlite");
    auto dir = std::filesystem::temp_directory_path() / ("berth-cluster-" + new_run_id());
    std::filesystem::create_directories(dir);
    body((dir / "berth.db").string());
    std::filesystem::remove_all(dir);
  }
  if (berth::test::test_database_url().empty()) return;
  INFO("postgresql");
  berth::test::scratch_database db;
  body(db.url());
}
}  // namespace

TEST_CASE("claims: first come first served under both caps") {
  std::vector<std::pair<std::string, std::string>> q = {{"1", "alice"}, {"2", "alice"}, {"3", "alice"}, {"4", "bob"}, {"5", "carol"}};
  CHECK(store::plan_claims(q, {}, 10, 2, 10) == std::vector<std::string>{"1", "2", "4", "5"});
  CHECK(store::plan_claims(q, {{"alice", 1}}, 10, 2, 10) == std::vector<std::string>{"1", "4", "5"});
  CHECK(store::plan_claims(q, {{"zed", 2}}, 3, 2, 10) == std::vector<std::string>{"1"});
  CHECK(store::plan_claims(q, {}, 10, 2, 2) == std::vector<std::string>{"1", "2"});
  CHECK(store::plan_claims(q, {{"x", 5}}, 4, 2, 10).empty());
}

TEST_CASE("store: claims from two nodes at once hold the caps over both - no run is claimed twice", "[postgres]") {
  on_each_backend([](const std::string& url) {
    store::store a(url), b(url);
    for (int i = 0; i < 8; ++i) {
      auto r = queued_run(i < 6 ? "alice" : "bob", i);
      a.insert_run(r, first_event(r.id));
    }
    const store::claim_caps caps{.max_concurrent = 3, .max_per_user = 2};
    std::vector<run_record> got_a, got_b;
    std::thread ta([&] { for (int i = 0; i < 20; ++i) for (auto& r : a.claim_queued("A", caps)) got_a.push_back(r); });
    std::thread tb([&] { for (int i = 0; i < 20; ++i) for (auto& r : b.claim_queued("B", caps)) got_b.push_back(r); });
    ta.join();
    tb.join();
    std::set<std::string> ids;
    int alice = 0;
    for (const auto* v : {&got_a, &got_b})
      for (const auto& r : *v) {
        CHECK(ids.insert(r.id).second);
        alice += r.user == "alice";
      }
    CHECK(ids.size() == 3);
    CHECK(alice == 2);
    CHECK(a.count_waiting() == 5);
    for (const auto& r : got_a) CHECK(a.get_run(r.id)->owner == "A");
    for (const auto& r : got_b) CHECK(a.get_run(r.id)->owner == "B");
  });
}

TEST_CASE("store: a run is adopted only once its owner's lease ran out - the old owner's writes are refused", "[postgres]") {
  on_each_backend([](const std::string& url) {
    store::store a(url), b(url);
    a.set_node("A");
    b.set_node("B");
    auto r = queued_run("alice", 1);
    a.insert_run(r, first_event(r.id));
    REQUIRE(a.claim_queued("A", {.max_concurrent = 4, .max_per_user = 4}).size() == 1);
    a.heartbeat("A", 10000);
    b.heartbeat("B", 10000);
    store::run_update u;
    u.status = "running";
    a.commit(r.id, {{r.id, 2, "status", "{}", 2}}, u);
    const std::int64_t lease = 15000;
    CHECK(b.adoptable_runs("B", 10000 + lease - 1, lease).empty());
    CHECK_FALSE(b.take_over(r.id, "B", 10000 + lease - 1, lease));
    CHECK(b.adoptable_runs("B", 10000 + lease + 1, lease) == std::vector<std::string>{r.id});
    b.heartbeat("B", 10000 + lease + 1);
    CHECK(b.take_over(r.id, "B", 10000 + lease + 1, lease));
    CHECK_FALSE(a.take_over(r.id, "A", 10000 + lease + 1, lease));  // B is alive: A cannot take it back
    CHECK_THROWS_AS(a.commit(r.id, {{r.id, 3, "log", "{}", 3}}, {}), store::ownership_lost);
    b.commit(r.id, {{r.id, 3, "log", "{}", 3}}, {});
    CHECK(b.get_run(r.id)->last_seq == 3);
    CHECK(b.events_after(r.id, 0, 10).size() == 3);
  });
}

TEST_CASE("store: a dead node's claims go back to the queue - a clean stop hands runs over at once", "[postgres]") {
  on_each_backend([](const std::string& url) {
    store::store s(url);
    auto r1 = queued_run("alice", 1), r2 = queued_run("bob", 2);
    s.insert_run(r1, first_event(r1.id));
    s.insert_run(r2, first_event(r2.id));
    s.heartbeat("A", 1000);
    REQUIRE(s.claim_queued("A", {.max_concurrent = 4, .max_per_user = 4}).size() == 2);
    s.set_node("A");
    store::run_update u;
    u.status = "running";
    s.commit(r2.id, {{r2.id, 2, "status", "{}", 2}}, u);
    CHECK(s.release_dead_claims("B", 2000, 15000) == 0);
    CHECK(s.release_dead_claims("A", 20000, 15000) == 0);  // never by the node that claimed it: it is launching it
    CHECK(s.release_dead_claims("A", 20000, 0) == 0);      // not even with SQLite's lease of 0
    CHECK(s.release_dead_claims("B", 20000, 15000) == 1);  // r1 was only claimed: back in the queue
    CHECK(s.get_run(r1.id)->owner.empty());
    CHECK(s.count_waiting() == 1);
    s.heartbeat("A", 30000);
    CHECK(s.adoptable_runs("B", 30001, 15000).empty());
    s.forget_node("A");
    CHECK(s.adoptable_runs("B", 30001, 15000) == std::vector<std::string>{r2.id});
  });
}

TEST_CASE("store: a cancel asked anywhere reaches the run's owner", "[postgres]") {
  on_each_backend([](const std::string& url) {
    store::store a(url), b(url);
    auto r = queued_run("alice", 1);
    a.insert_run(r, first_event(r.id));
    REQUIRE(a.claim_queued("A", {.max_concurrent = 4, .max_per_user = 4}).size() == 1);
    CHECK_FALSE(b.claim_for_cancel(r.id, "B"));  // claimed by A already
    CHECK(a.cancel_requests("A").empty());
    b.request_cancel(r.id);
    CHECK(a.cancel_requests("A") == std::vector<std::string>{r.id});
    CHECK(a.cancel_requests("B").empty());
  });
}

TEST_CASE("store: dashboard logins are seen by every node - expire - stay bounded", "[postgres]") {
  on_each_backend([](const std::string& url) {
    store::store a(url), b(url);
    a.put_login("h1", {.csrf = "c1", .users = std::nullopt, .expires_at = 5000}, 1000, 3);
    a.put_login("h2", {.csrf = "c2", .users = R"(["alice"])", .expires_at = 6000}, 1000, 3);
    auto l = b.find_login("h2", 2000);
    REQUIRE(l);
    CHECK(l->csrf == "c2");
    CHECK(l->users == std::optional<std::string>(R"(["alice"])"));
    CHECK_FALSE(b.find_login("h1", 2000)->users);
    CHECK_FALSE(b.find_login("h1", 5000));  // expired
    a.put_login("h3", {.csrf = "c3", .expires_at = 7000}, 1000, 3);
    a.put_login("h4", {.csrf = "c4", .expires_at = 8000}, 1000, 3);  // full: the closest to expiry (h1) gives way
    CHECK(a.count_logins(1000) == 3);
    CHECK_FALSE(a.find_login("h1", 1000));
    b.remove_login("h4");
    CHECK_FALSE(a.find_login("h4", 1000));
  });
}

TEST_CASE("store: a due delivery is claimed by one node until its claim runs out", "[postgres]") {
  on_each_backend([](const std::string& url) {
    store::store a(url), b(url);
    auto r = queued_run("alice", 1);
    store::delivery_record d;
    d.kind = "callback";
    d.target = "{}";
    a.insert_run(r, first_event(r.id), {d});
    auto id = a.deliveries_of_run(r.id).at(0).id;
    a.update_delivery(id, {.state = "pending", .next_at = 100});
    a.heartbeat("A", 1000);
    b.heartbeat("B", 1000);
    const std::int64_t lease = 60000;
    CHECK(a.claim_due_deliveries("A", 1000, 30000, 10, lease).size() == 1);
    CHECK(b.claim_due_deliveries("B", 1000, 30000, 10, lease).empty());
    CHECK(b.claim_due_deliveries("B", 40000, 30000, 10, lease).size() == 1);  // A's claim ran out: B takes it
    b.heartbeat("B", 40000);
    CHECK(a.claim_due_deliveries("A", 40001, 30000, 10, lease).empty());       // B holds it now
    a.forget_node("A");
    b.forget_node("B");
    CHECK(a.claim_due_deliveries("A", 40002, 30000, 10, lease).size() == 1);  // B is gone (killed): A takes it
    a.update_delivery(id, {.state = "delivered"});
    CHECK(b.claim_due_deliveries("B", 90000, 30000, 10, lease).empty());
  });
}

TEST_CASE("store: stored events are announced to a listener on another connection - after commit", "[postgres]") {
  const auto server = berth::test::test_database_url();
  if (server.empty()) {
    WARN("no PostgreSQL fixture: skipped");
    return;
  }
  berth::test::scratch_database db;
  store::store s(db.url());
  s.set_node("A");
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> notes;
  std::atomic<int> resyncs{0};
  std::mutex ready_m;
  std::condition_variable ready_cv;
  store::postgres::pg_listener l(
      db.url(), {store::events_channel},
      [&](const std::string&, const std::string& p) {
        std::lock_guard lock(m);
        notes.push_back(p);
        cv.notify_all();
      },
      [&] {
        ++resyncs;
        ready_cv.notify_all();
      });
  l.start();
  {
    std::unique_lock lock(ready_m);
    REQUIRE(ready_cv.wait_for(lock, std::chrono::seconds(10), [&] { return resyncs > 0; }));
  }
  auto r = queued_run("alice", 1);
  r.owner = "A";
  s.insert_run(r, first_event(r.id));
  s.commit(r.id, {{r.id, 2, "log", "{}", 2}, {r.id, 3, "log", "{}", 3}}, {});
  std::unique_lock lock(m);
  REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return notes.size() >= 2; }));
  CHECK(notes[0] == "A " + r.id + " 1 1");
  CHECK(notes[1] == "A " + r.id + " 2 3");
  lock.unlock();
  l.stop();
}

TEST_CASE("store: an embedded history is copied into PostgreSQL whole - again without doubles - new replies get new ids",
          "[postgres]") {
  if (berth::test::test_database_url().empty()) {
    WARN("no PostgreSQL fixture: skipped");
    return;
  }
  auto dir = std::filesystem::temp_directory_path() / ("berth-copy-" + new_run_id());
  std::filesystem::create_directories(dir);
  const auto path = (dir / "berth.db").string();
  std::vector<std::string> ids;
  {
    store::store s(path);
    s.set_meta("instance", "old1");
    s.set_instructions("alice", "be brief", 5);
    for (int i = 0; i < 3; ++i) {
      auto r = queued_run("alice", i);
      store::delivery_record d;
      d.kind = "callback";
      d.target = R"({"url":"http://x"})";
      s.insert_run(r, first_event(r.id), {d});
      store::run_update u;
      u.status = "succeeded";
      u.exit_code = 0;
      u.finished_at = 77;
      std::vector<event> evs;
      for (int k = 2; k <= 700; ++k) evs.push_back({r.id, k, "text", R"({"text":"w"})", k});
      s.commit(r.id, evs, u);
      ids.push_back(r.id);
    }
    s.claim_chat_event("slack", "Ev1", 1000);
    s.set_user_setting("alice", "budget", R"({"tokens_per_day":9})", 5);
    store::run_update spent;
    spent.spend = store::spend_delta{"2026-12-04", 42, 7};
    s.commit(ids[0], {}, spent);
  }
  berth::test::scratch_database db;
  store::store pg(db.url());
  auto counts = store::copy_history(path, pg);
  CHECK(counts == store::copy_counts{{"meta", 1}, {"runs", 3}, {"events", 2100}, {"user_instructions", 1}, {"deliveries", 3}, {"chat_events", 1}, {"schedules", 0}, {"user_settings", 1}, {"spend_daily", 1}});
  CHECK(pg.user_setting("alice", "budget") == std::optional<std::string>(R"({"tokens_per_day":9})"));
  CHECK(pg.spend_on("2026-12-04").at(0).tokens == 42);
  CHECK(pg.meta("instance") == "old1");
  CHECK(pg.instructions("alice") == std::optional<std::string>("be brief"));
  auto r = pg.get_run(ids[1]);
  REQUIRE(r);
  CHECK(r->status == "succeeded");
  CHECK(r->exit_code == std::optional<int>(0));
  CHECK_FALSE(r->started_at);
  CHECK(r->last_seq == 700);
  CHECK(pg.events_after(ids[2], 0, 1000).size() == 700);
  CHECK_FALSE(pg.claim_chat_event("slack", "Ev1", 1001));
  store::copy_history(path, pg);  // again: nothing doubled
  CHECK(pg.count_events() == 2100);
  auto fresh = queued_run("bob", 9);
  store::delivery_record d;
  d.kind = "callback";
  d.target = "{}";
  pg.insert_run(fresh, first_event(fresh.id), {d});
  CHECK(pg.deliveries_of_run(fresh.id).at(0).id == 4);
  std::filesystem::remove_all(dir);
}
