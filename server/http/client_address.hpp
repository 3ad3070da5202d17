// Who the client is, for rate limits: the peer's address, or — only when the peer is one of the operator's
// trusted proxies (BERTH_TRUSTED_PROXIES: addresses or CIDR ranges) — the nearest untrusted address in
// X-Forwarded-For. A client can put anything in that header; only a trusted proxy's word counts. Pure.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace berth::http {

// True when `address` is one of `trusted` (an address, or a range like 172.16.0.0/12 or fd00::/8).
bool is_trusted_proxy(std::string_view address, const std::vector<std::string>& trusted);
std::string client_address(std::string_view peer, std::string_view forwarded_for, const std::vector<std::string>& trusted);

}  // namespace berth::http
