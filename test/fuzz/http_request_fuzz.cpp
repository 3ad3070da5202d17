// The HTTP request path up to the handler: Beast's parser with berthd's header and body limits, then the route
// table. Whatever the bytes, parsing ends in a request or an error code and routing in a row, 404 or 405.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/beast/http.hpp>

#include "server/http/routes.hpp"
#include "server/runs/run_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> p;
  p.header_limit(16 * 1024);
  p.body_limit(berth::runs::max_body_bytes);
  p.eager(true);
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(data, size), ec);
  if (ec || !p.is_header_done()) return 0;
  const auto& req = p.get();
  std::string_view method(req.method_string().data(), req.method_string().size());
  std::string_view target(req.target().data(), req.target().size());
  for (unsigned listener : {berth::http::main_listener, berth::http::metrics_listener}) {
    auto m = berth::http::match_route(berth::http::routes(), method, target, listener);
    if ((m.result == berth::http::match_result::found) != (m.row != nullptr)) std::abort();
    if (m.row && !(m.row->listeners & listener)) std::abort();
  }
  return 0;
}
