// Which CONNECT targets the gateway dials for a worker (BERTH_EGRESS_ALLOW). Pure. A target must be on the
// list by name (`host:port`, or `*.domain:port` for any name under domain); and after resolution, an address
// that is loopback, private, link-local, unspecified or a metadata endpoint is dialled only when the list
// names that very address literally (`127.0.0.1:8443`), so a listed name cannot be pointed at the host's or
// the cloud's internals through DNS.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace berth::gateway {

struct egress_target {
  std::string host;  // lower case; an IPv6 literal without brackets
  unsigned short port = 0;
  std::string text() const;  // host:port as the request named it ([v6]:port)
};

// `host:port` or `[v6]:port` from a CONNECT request line; nullopt when malformed.
std::optional<egress_target> parse_connect_target(std::string_view authority);

// Whether `allow` names the target (before resolution).
bool egress_listed(const std::vector<std::string>& allow, const egress_target& t);

bool is_special_address(const boost::asio::ip::address& a);

// The addresses that may be dialled, or empty with `why` set.
std::vector<boost::asio::ip::address> dialable(const std::vector<std::string>& allow, const egress_target& t,
                                               const std::vector<boost::asio::ip::address>& resolved, std::string& why);

}  // namespace berth::gateway
