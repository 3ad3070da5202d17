// The gateway's parsers of bytes a worker or the upstream controls: usage metering (split at a byte the
// input picks: the total must not depend on the split, and counts are never negative), CONNECT targets and
// the egress decision, the upstream URL, and the Messages API path check.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/asio/ip/address.hpp>

#include "server/gateway/egress_policy.hpp"
#include "server/gateway/upstream.hpp"
#include "server/gateway/usage_meter.hpp"

namespace {
berth::usage meter(std::string_view in, std::size_t cut, bool sse) {
  berth::gateway::usage_meter m(sse);
  berth::usage total;
  total += m.feed(in.substr(0, cut));
  total += m.feed(in.substr(cut));
  total += m.finish();
  return total;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);
  for (bool sse : {true, false}) {
    auto whole = meter(in, in.size(), sse);
    auto split = meter(in, cut, sse);
    if (whole.input_tokens != split.input_tokens || whole.output_tokens != split.output_tokens ||
        whole.cache_read_input_tokens != split.cache_read_input_tokens)
      std::abort();
    if (whole.input_tokens < 0 || whole.output_tokens < 0 || whole.cache_creation_input_tokens < 0) std::abort();
  }
  std::string text(in.substr(0, 400));
  if (auto t = berth::gateway::parse_connect_target(text)) {
    if (t->port == 0 || t->host.empty()) std::abort();
    std::string why;
    auto ok = berth::gateway::dialable({"*.example.com:443", "127.0.0.1:8080"}, *t,
                                       {boost::asio::ip::make_address("127.0.0.1"), boost::asio::ip::make_address("93.184.216.34")}, why);
    if (ok.empty() && why.empty()) std::abort();
  }
  (void)berth::gateway::parse_upstream(text);
  (void)berth::gateway::is_model_api("POST", text);
  return 0;
}
