#include "server/runs/event_bus.hpp"

#include <algorithm>

namespace berth::runs {

bool subscription::drain(std::vector<event_ptr>& out) {
  std::lock_guard lock(m_);
  if (overflowed_) return false;
  out.assign(std::make_move_iterator(q_.begin()), std::make_move_iterator(q_.end()));
  q_.clear();
  return true;
}

void subscription::push(const event_ptr& e) {
  {
    std::lock_guard lock(m_);
    if (overflowed_) return;
    if (q_.size() >= subscriber_queue_max) {
      overflowed_ = true;
      q_.clear();
    } else {
      q_.push_back(e);
    }
  }
  wake_();
}

void subscription::overflow() {
  {
    std::lock_guard lock(m_);
    overflowed_ = true;
    q_.clear();
  }
  wake_();
}

bool event_bus::wants(const std::string& run, bool status_change) const {
  std::lock_guard lock(m_);
  return subs_.count(run) > 0 || (status_change && subs_.count("") > 0);
}

void event_bus::overflow_all() {
  std::vector<std::shared_ptr<subscription>> all;
  {
    std::lock_guard lock(m_);
    for (auto& [run, v] : subs_) all.insert(all.end(), v.begin(), v.end());
  }
  for (auto& s : all) s->overflow();
}

std::shared_ptr<subscription> event_bus::subscribe(const std::string& run, std::function<void()> wake) {
  auto s = std::make_shared<subscription>(std::move(wake));
  std::lock_guard lock(m_);
  subs_[run].push_back(s);
  ++count_;
  return s;
}

void event_bus::unsubscribe(const std::string& run, const std::shared_ptr<subscription>& s) {
  std::lock_guard lock(m_);
  auto it = subs_.find(run);
  if (it == subs_.end()) return;
  auto& v = it->second;
  auto pos = std::find(v.begin(), v.end(), s);
  if (pos == v.end()) return;
  v.erase(pos);
  --count_;
  if (v.empty()) subs_.erase(it);
}

void event_bus::wake_all() {
  std::vector<std::shared_ptr<subscription>> all;
  {
    std::lock_guard lock(m_);
    for (auto& [run, v] : subs_) all.insert(all.end(), v.begin(), v.end());
  }
  for (auto& s : all) s->wake();
}

void event_bus::publish(const std::string& run, const std::vector<event_ptr>& events) {
  std::vector<std::shared_ptr<subscription>> targets, overview;
  {
    std::lock_guard lock(m_);
    if (auto it = subs_.find(run); it != subs_.end()) targets = it->second;
    if (auto it = subs_.find(""); it != subs_.end()) overview = it->second;
  }
  for (const auto& e : events) {
    for (const auto& s : targets) s->push(e);
    if (e->type == "status" || e->type == "done")
      for (const auto& s : overview) s->push(e);
  }
}

}  // namespace berth::runs
