#include "server/runs/cluster_feed.hpp"

#include <sstream>

#include "common/log.hpp"
#include "server/store/postgres/pg_listener.hpp"

namespace berth::runs {

namespace {
constexpr std::int64_t max_events_per_announcement = 10000;
}

std::optional<announced_events> parse_announcement(const std::string& payload) {
  std::istringstream in(payload);
  announced_events a;
  if (!(in >> a.node >> a.run >> a.first >> a.last)) return std::nullopt;
  std::string extra;
  if (in >> extra) return std::nullopt;
  if (a.first < 1 || a.last < a.first || a.last - a.first >= max_events_per_announcement) return std::nullopt;
  return a;
}

cluster_feed::cluster_feed(store::store& s, event_bus& bus, run_manager& m, executor& e)
    : store_(s), bus_(bus), manager_(m), exec_(e) {}

cluster_feed::~cluster_feed() { stop(); }

void cluster_feed::start() {
  if (!store_.shared()) return;
  listener_ = std::make_unique<store::postgres::pg_listener>(
      store_.url(), std::vector<std::string>{store::events_channel, store::queue_channel, store::cancel_channel},
      [this](const std::string& ch, const std::string& p) { on_note(ch, p); }, [this] { on_resync(); });
  listener_->start();
}

void cluster_feed::stop() {
  if (listener_) listener_->stop();
}

bool cluster_feed::connected() const { return !listener_ || listener_->connected(); }

void cluster_feed::on_note(const std::string& channel, const std::string& payload) {
  if (channel == store::queue_channel) {
    manager_.retry();
    return;
  }
  if (channel == store::cancel_channel) {
    if (exec_.cancel(payload)) log::info("stopping a run whose cancel was asked on another instance", {{"run", payload}});
    return;
  }
  auto a = parse_announcement(payload);
  if (!a || a->node == store_.node()) return;  // ours were published when they were stored
  if (!bus_.wants(a->run, true)) return;
  auto events = store_.events_after(a->run, a->first - 1, static_cast<int>(a->last - a->first + 1));
  std::vector<event_ptr> ptrs;
  ptrs.reserve(events.size());
  for (auto& e : events) ptrs.push_back(std::make_shared<const event>(std::move(e)));
  if (!ptrs.empty()) bus_.publish(a->run, ptrs);
}

void cluster_feed::on_resync() {
  if (!std::exchange(first_sync_, false)) {
    log::info("database notifications resumed; live streams resume from the store");
    bus_.overflow_all();
  }
  manager_.retry();
}

}  // namespace berth::runs
