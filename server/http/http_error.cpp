#include "server/http/http_error.hpp"

#include <nlohmann/json.hpp>

namespace berth::http {

std::string error_body(std::string_view code, std::string_view message) {
  return nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump(-1, ' ', false,
                                                                               nlohmann::json::error_handler_t::replace);
}

}  // namespace berth::http
