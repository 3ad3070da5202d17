#include "server/runs/node_lease.hpp"

#include <chrono>
#include <utility>

#include "common/log.hpp"
#include "common/strings.hpp"

namespace berth::runs {

node_lease::node_lease(const config& c, store::store& s, run_manager& m, executor& e)
    : cfg_(c), store_(s), manager_(m), exec_(e) {}

node_lease::~node_lease() { stop(); }

void node_lease::start() {
  store_.heartbeat(manager_.node(), now_ms());
  thread_ = std::thread([this] { loop(); });
}

void node_lease::stop() {
  {
    std::lock_guard lock(m_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    try {
      store_.forget_node(manager_.node());
    } catch (const std::exception& e) {
      log::warn("could not sign this node off; others adopt its runs after the lease", {{"error", e.what()}});
    }
  }
}

int node_lease::serve_cancels() {
  int n = 0;
  for (const auto& id : store_.cancel_requests(manager_.node()))
    if (exec_.cancel(id)) {
      log::info("stopping a run whose cancel was asked on another instance", {{"run", id}});
      ++n;
    }
  return n;
}

void node_lease::beat() {
  try {
    store_.heartbeat(manager_.node(), now_ms());
    // Back after a database outage: this node's runs whose threads let go meanwhile are followed again now
    // (otherwise the reconciler's next pass would); in ordinary beats only dead nodes' runs are adopted.
    const bool recovered = std::exchange(warned_, false);
    if (recovered) log::info("heartbeat written again; following this node's runs again");
    serve_cancels();
    manager_.adopt_orphans(manager_.take_let_go() || recovered);
    manager_.retry();
  } catch (const std::exception& e) {
    if (!warned_)
      log::warn("heartbeat failed: the database does not answer; past BERTH_LEASE_S other instances adopt this node's runs",
                {{"error", e.what()}});
    warned_ = true;
  }
}

void node_lease::loop() {
  const auto period = std::chrono::milliseconds(std::max(1000, cfg_.lease_s * 1000 / 3));
  std::unique_lock lock(m_);
  while (!stop_) {
    if (cv_.wait_for(lock, period, [this] { return stop_; })) break;
    lock.unlock();
    beat();
    lock.lock();
  }
}

}  // namespace berth::runs
