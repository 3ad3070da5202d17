// Caps on open connections, in total and per client address, so no one client (and no crowd of
// unauthenticated ones) can hold every descriptor or grow berthd's memory without bound. A connection over a
// cap is answered with a short 503 and closed at once. Thread-safe; the slot is given back by the guard.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace berth::http {

class connection_limits {
 public:
  connection_limits(std::size_t max_total, std::size_t max_per_client) : max_total_(max_total), max_per_client_(max_per_client) {}

  class slot {
   public:
    slot() = default;
    slot(connection_limits* owner, std::string client) : owner_(owner), client_(std::move(client)) {}
    slot(slot&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), client_(std::move(o.client_)) {}
    slot& operator=(slot&&) = delete;
    ~slot() {
      if (owner_) owner_->release(client_);
    }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    connection_limits* owner_ = nullptr;
    std::string client_;
  };

  // An empty slot when a cap is reached; `why` then says which.
  slot admit(const std::string& client, std::string& why);
  std::size_t open() const;

 private:
  void release(const std::string& client);
  const std::size_t max_total_, max_per_client_;
  mutable std::mutex m_;
  std::size_t total_ = 0;
  std::map<std::string, std::size_t> per_client_;
};

}  // namespace berth::http
