// The outbox: every reply berthd owes someone (a Slack thread, a Telegram chat, a callback URL) is a row in
// the store, written with the run before anything is sent. When the run ends its row gets the payload and is
// sent; failures are retried with exponential backoff and jitter until BERTH_DELIVERY_DEADLINE_S, then marked
// `failed` with the last error (API and dashboard show it). A restart resumes where it stopped: rows waiting on
// a run that ended meanwhile are filled, pending ones are sent. While a chat run streams, the same thread keeps
// one chat message up to date (at most every BERTH_CHAT_UPDATE_MS), which the final reply then replaces.
// One thread does all sending, so a progress edit can never land after the final text.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/config.hpp"
#include "server/runs/event_bus.hpp"
#include "server/store/store.hpp"

namespace berth::chat {

class outbox {
 public:
  outbox(const config& c, store::store& s, runs::event_bus& bus);
  ~outbox();
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;
  void start();
  void stop();
  void notify();  // a run ended, or a delivery became due
  // Follow a chat run's text to keep a progress message up to date.
  void track(const std::string& run);

 private:
  struct tracked {
    std::shared_ptr<runs::subscription> sub;
    std::string text;
    bool dirty = true;  // a GitHub reply posts its progress comment at once, before any text
    bool done = false;
    std::int64_t last_update_ms = 0;
  };
  void loop();
  void finalize_waiting();
  void send_due();
  void progress();
  void progress_one(const std::string& run, tracked& t);

  const config& cfg_;
  store::store& store_;
  runs::event_bus& bus_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool kicked_ = false;
  std::map<std::string, tracked> tracked_;  // guarded by m_ (map shape); entries used by the thread only
  std::thread thread_;
};

}  // namespace berth::chat
