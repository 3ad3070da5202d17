// Runs test/fake_anthropic/server.js (the one fake in berth's tests: the paid API) on 127.0.0.1 and reads
// back what it received.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace berth::test {

class fake_anthropic {
 public:
  explicit fake_anthropic(std::map<std::string, std::string> env = {});
  ~fake_anthropic();
  fake_anthropic(const fake_anthropic&) = delete;
  fake_anthropic& operator=(const fake_anthropic&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // With FAKE_ANTHROPIC_TLS_CERT/KEY: https, named as the certificate names it.
  std::string tls_url(const std::string& host = "localhost") const { return "https://" + host + ":" + std::to_string(port_); }
  nlohmann::json requests();  // every recorded request, oldest first
  // The /v1/messages requests only.
  nlohmann::json message_requests();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int admin_port_ = 0;  // /_requests: the same port, or a plain one beside a TLS port
};

}  // namespace berth::test
