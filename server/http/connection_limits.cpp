#include "server/http/connection_limits.hpp"

namespace berth::http {

connection_limits::slot connection_limits::admit(const std::string& client, std::string& why) {
  std::lock_guard lock(m_);
  if (total_ >= max_total_) {
    why = "berthd has " + std::to_string(total_) + " open connections (BERTH_MAX_CONNECTIONS)";
    return {};
  }
  auto& mine = per_client_[client];
  if (mine >= max_per_client_) {
    why = "this client has " + std::to_string(mine) + " open connections (BERTH_MAX_CONNECTIONS_PER_CLIENT)";
    return {};
  }
  ++mine;
  ++total_;
  return {this, client};
}

void connection_limits::release(const std::string& client) {
  std::lock_guard lock(m_);
  --total_;
  if (auto it = per_client_.find(client); it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

std::size_t connection_limits::open() const {
  std::lock_guard lock(m_);
  return total_;
}

}  // namespace berth::http
