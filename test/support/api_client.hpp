// Talks to a berthd under test over real sockets: JSON requests and SSE streams with arrival times.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::test {

struct sse_event {
  long long id = 0;
  std::string type;
  std::string data;
  std::chrono::steady_clock::time_point at;
  nlohmann::json json() const { return nlohmann::json::parse(data); }
};

struct http_result {
  int status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? "" : it->second;
  }
};

struct sse_stream {
  int status = 0;
  std::multimap<std::string, std::string> headers;
  std::string raw;  // every byte received
  std::vector<sse_event> events;
  bool saw_connected = false;
};

class api_client {
 public:
  explicit api_client(int port, std::string key = "");
  http_result get(const std::string& path, std::map<std::string, std::string> headers = {});
  http_result post(const std::string& path, const std::string& body, std::map<std::string, std::string> headers = {});
  http_result put(const std::string& path, const std::string& body, const std::string& content_type = "application/json");
  http_result del(const std::string& path, std::map<std::string, std::string> headers = {});
  // Logs in to the dashboard with its form; returns "berth_session=<token>" for a Cookie header. Throws unless
  // berthd answered 303 to /dashboard with a cookie.
  std::string dashboard_login(const std::string& key, std::map<std::string, std::string> headers = {});
  // Starts a run (202) and returns its id.
  std::string start_run(const nlohmann::json& body);
  // Reads an SSE response to its end. `on_event` may return false to stop reading early.
  sse_stream stream(const std::string& method, const std::string& path, const std::string& body = "",
                    std::map<std::string, std::string> headers = {},
                    const std::function<bool(const sse_event&)>& on_event = {});
  // Follows a run's events until `done`, returns the done event's data.
  nlohmann::json wait_done(const std::string& id);

 private:
  int port_;
  std::string key_;
};

// Parses complete SSE frames out of `buf` (consumed), appending events; marks `: connected`.
void parse_sse(std::string& buf, sse_stream& out, const std::function<bool(const sse_event&)>& on_event, bool& stop);

}  // namespace berth::test
