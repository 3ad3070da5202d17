// A local stand-in for the Slack Web API, the Telegram Bot API, GitHub's issue comments and a callback receiver,
// on 127.0.0.1: records every request and answers like the real APIs (Slack {"ok", "ts"}, Telegram {"ok",
// "result"}, GitHub 201 {"id"} for a new comment and 200 for an edit). Failures can be injected: the next N
// callbacks answer 500, or Slack answers {"ok": false, "error": E}. Given a directory of bare repositories
// (<owner>/<repo>.git), it also serves git's smart HTTP for them through the real `git http-backend`, as
// github.com does, to requests carrying the expected Authorization only (401 otherwise).
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace httplib { class Server; }

namespace berth::test {

struct recorded_request {
  std::string method;
  std::string path;
  std::string body;
  std::multimap<std::string, std::string> headers;
  int answered = 0;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? "" : it->second;
  }
};

struct git_repos {
  std::string root;           // empty: no git service
  std::string authorization;  // the header value a request must carry
};

class fake_chat {
 public:
  explicit fake_chat(git_repos git = {});
  ~fake_chat();
  fake_chat(const fake_chat&) = delete;
  fake_chat& operator=(const fake_chat&) = delete;

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<recorded_request> requests();
  std::vector<recorded_request> requests_to(const std::string& path_suffix);
  // Waits (up to `timeout`) until `pred` holds for the recorded requests.
  bool wait_for(const std::function<bool(const std::vector<recorded_request>&)>& pred,
                std::chrono::seconds timeout = std::chrono::seconds(30));
  void fail_callbacks(int n);
  void slack_error(std::string e);

 private:
  git_repos git_;
  std::unique_ptr<httplib::Server> srv_;
  std::thread thread_;
  int port_ = 0;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<recorded_request> seen_;
  int fail_callbacks_ = 0;
  std::string slack_error_;
  int next_id_ = 100;
};

}  // namespace berth::test
