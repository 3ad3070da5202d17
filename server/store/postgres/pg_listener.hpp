// LISTEN on PostgreSQL channels with a connection of its own, on a thread of its own. Each notification is
// handed to `on_note(channel, payload)`; after every (re)connect `on_resync()` is called, because
// notifications sent while the connection was down are lost and listeners must catch up from the store.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace berth::store::postgres {

class pg_listener {
 public:
  using note_fn = std::function<void(const std::string& channel, const std::string& payload)>;
  pg_listener(std::string url, std::vector<std::string> channels, note_fn on_note, std::function<void()> on_resync);
  ~pg_listener();
  pg_listener(const pg_listener&) = delete;
  pg_listener& operator=(const pg_listener&) = delete;
  void start();
  void stop();
  bool connected() const { return connected_; }

 private:
  void loop();
  std::string url_;
  std::vector<std::string> channels_;
  note_fn on_note_;
  std::function<void()> on_resync_;
  int wake_[2] = {-1, -1};  // a pipe: stop() writes, the loop's poll() wakes
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace berth::store::postgres
