// Who spent what today, against their budgets, in memory for the checks that cannot wait for the database:
// the gateway's before each model call (on berthd's I/O threads) and the run manager's at submission.
// This node's spend is counted as its gateway meters it (`add`); budgets and what other instances counted
// come from the store, read by the ledger's own thread every few seconds (and at once by `refresh`). The
// store stays the record: each run's spend is added there in the same transaction as its usage.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "server/runs/budgets.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

class spend_ledger {
 public:
  explicit spend_ledger(store::store& s) : store_(s) {}
  ~spend_ledger() { stop(); }
  spend_ledger(const spend_ledger&) = delete;
  spend_ledger& operator=(const spend_ledger&) = delete;

  void start();  // a first refresh (throws if the store does not answer), then every refresh_interval
  void stop();
  void refresh();  // store → memory; keeps this node's counts that the store has not caught up with yet

  void add(const std::string& user, const spend& s, std::int64_t now_ms);
  void set_budget(const std::string& user, const std::optional<budget>& b);  // after the API changed it
  std::optional<over_budget> check(const std::string& user, std::int64_t now_ms);
  std::map<std::string, spend> today(std::int64_t now_ms);  // users who spent anything today
  std::optional<budget> budget_of(const std::string& user);

  static constexpr auto refresh_interval = std::chrono::seconds(5);

 private:
  void roll(const std::string& day);  // under m_: a new day starts from nothing

  store::store& store_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string day_;
  std::map<std::string, budget> budgets_;
  std::map<std::string, spend> spent_;
  std::thread thread_;
};

}  // namespace berth::runs
