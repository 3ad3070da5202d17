#include "server/http/client_address.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include "common/strings.hpp"

namespace berth::http {
namespace ip = boost::asio::ip;
namespace {
// The first `prefix` bits of a and b are equal.
template <class Bytes>
bool same_prefix(const Bytes& a, const Bytes& b, unsigned prefix) {
  for (std::size_t i = 0; i < a.size() && prefix > 0; ++i, prefix = prefix > 8 ? prefix - 8 : 0) {
    unsigned mask = prefix >= 8 ? 0xFFu : (0xFFu << (8 - prefix)) & 0xFFu;
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}
}  // namespace

bool is_trusted_proxy(std::string_view address, const std::vector<std::string>& trusted) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(address), ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  for (const auto& t : trusted) {
    if (t.find('/') == std::string::npos) {
      auto b = ip::make_address(t, ec);
      if (!ec && a == b) return true;
      continue;
    }
    if (a.is_v4()) {
      auto net = ip::make_network_v4(t, ec);
      if (!ec && same_prefix(a.to_v4().to_bytes(), net.address().to_bytes(), net.prefix_length())) return true;
    } else {
      auto net = ip::make_network_v6(t, ec);
      if (!ec && same_prefix(a.to_v6().to_bytes(), net.address().to_bytes(), net.prefix_length())) return true;
    }
  }
  return false;
}

std::string client_address(std::string_view peer, std::string_view forwarded_for, const std::vector<std::string>& trusted) {
  if (forwarded_for.empty() || !is_trusted_proxy(peer, trusted)) return std::string(peer);
  // Right to left: each trusted hop vouches for the one before it; the first untrusted one is the client.
  auto hops = split_list(forwarded_for);
  for (auto it = hops.rbegin(); it != hops.rend(); ++it)
    if (!is_trusted_proxy(*it, trusted)) return *it;
  return hops.empty() ? std::string(peer) : hops.front();
}

}  // namespace berth::http
