#include "server/runs/spend_ledger.hpp"

#include <algorithm>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"

namespace berth::runs {

void spend_ledger::start() {
  refresh();
  thread_ = std::thread([this] {
    std::unique_lock lock(m_);
    while (!stopping_) {
      cv_.wait_for(lock, refresh_interval, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      try {
        refresh();
      } catch (const std::exception& e) {
        log::warn("budgets: could not read spend and budgets from the store; keeping the last ones", {{"error", e.what()}});
      }
      lock.lock();
    }
  });
}

void spend_ledger::stop() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void spend_ledger::roll(const std::string& day) {
  if (day_ == day) return;
  day_ = day;
  spent_.clear();
}

void spend_ledger::refresh() {
  const auto day = utc_day(now_ms());
  std::map<std::string, budget> budgets;
  for (const auto& [user, text] : store_.user_settings_of("budget")) {
    std::string why;
    if (auto b = parse_budget(parse_json(text), why)) budgets[user] = *b;
  }
  auto stored = store_.spend_on(day);
  std::lock_guard lock(m_);
  budgets_ = std::move(budgets);
  roll(day);
  // The larger of the two: the store has other instances' spend, memory this node's not yet stored.
  for (const auto& s : stored) {
    auto& mine = spent_[s.user];
    mine.tokens = std::max(mine.tokens, s.tokens);
    mine.cost_micros = std::max(mine.cost_micros, s.cost_micros);
  }
}

void spend_ledger::add(const std::string& user, const spend& s, std::int64_t now) {
  std::lock_guard lock(m_);
  roll(utc_day(now));
  auto& mine = spent_[user];
  mine.tokens += s.tokens;
  mine.cost_micros += s.cost_micros;
}

void spend_ledger::set_budget(const std::string& user, const std::optional<budget>& b) {
  std::lock_guard lock(m_);
  if (b) budgets_[user] = *b;
  else budgets_.erase(user);
}

std::optional<over_budget> spend_ledger::check(const std::string& user, std::int64_t now) {
  std::lock_guard lock(m_);
  roll(utc_day(now));
  auto b = budgets_.find(user);
  if (b == budgets_.end()) return std::nullopt;
  auto s = spent_.find(user);
  auto why = budget_breach(b->second, s == spent_.end() ? spend{} : s->second);
  if (why.empty()) return std::nullopt;
  return over_budget{"user " + user + " is over budget: " + why, next_utc_midnight_ms(now)};
}

std::map<std::string, spend> spend_ledger::today(std::int64_t now) {
  std::lock_guard lock(m_);
  roll(utc_day(now));
  return spent_;
}

std::optional<budget> spend_ledger::budget_of(const std::string& user) {
  std::lock_guard lock(m_);
  auto b = budgets_.find(user);
  if (b == budgets_.end()) return std::nullopt;
  return b->second;
}

}  // namespace berth::runs
