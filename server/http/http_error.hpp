// The one mapping from failures to HTTP answers: every error is JSON {"error": {"code", "message"}}.
#pragma once
#include <stdexcept>
#include <string>

namespace berth::http {

struct http_error : std::runtime_error {
  int status;
  std::string code;
  http_error(int s, std::string c, const std::string& msg) : std::runtime_error(msg), status(s), code(std::move(c)) {}
};

std::string error_body(std::string_view code, std::string_view message);

}  // namespace berth::http
