#include "fake_chat.hpp"

#include <httplib.h>

namespace berth::test {

fake_chat::fake_chat() : srv_(std::make_unique<httplib::Server>()) {
  auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    recorded_request r{req.method, req.path, req.body, {}, 200};
    for (const auto& [k, v] : req.headers) r.headers.emplace(k, v);
    nlohmann::json answer;
    {
      std::lock_guard lock(m_);
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      int id = ++next_id_;
      if (req.path.ends_with("/chat.postMessage") || req.path.ends_with("/chat.update")) {
        if (!slack_error_.empty()) answer = {{"ok", false}, {"error", slack_error_}};
        else if (req.path.ends_with("/chat.update")) answer = {{"ok", true}, {"ts", body.value("ts", "")}};
        else answer = {{"ok", true}, {"channel", body.value("channel", "")}, {"ts", "1700000000." + std::to_string(id)}};
      } else if (req.path.ends_with("/sendMessage") || req.path.ends_with("/editMessageText")) {
        answer = {{"ok", true}, {"result", {{"message_id", body.contains("message_id") ? body["message_id"] : nlohmann::json(id)}}}};
      } else if (req.path.starts_with("/repos/")) {
        // GitHub: POST …/issues/N/comments creates a comment, PATCH …/issues/comments/ID edits it.
        answer = {{"id", req.method == "PATCH" ? nlohmann::json(std::stoll(req.path.substr(req.path.rfind('/') + 1))) : nlohmann::json(id)},
                  {"body", body.value("body", "")}};
        r.answered = req.method == "PATCH" ? 200 : 201;
      } else if (fail_callbacks_ > 0) {
        --fail_callbacks_;
        r.answered = 500;
      }
      res.status = r.answered;
      res.set_content(r.answered < 300 ? (answer.is_null() ? std::string("{}") : answer.dump()) : "boom", "application/json");
      seen_.push_back(std::move(r));
    }
    cv_.notify_all();
  };
  srv_->Post(".*", handle);
  srv_->Patch(".*", handle);
  port_ = srv_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { srv_->listen_after_bind(); });
}

fake_chat::~fake_chat() {
  srv_->stop();
  if (thread_.joinable()) thread_.join();
}

std::vector<recorded_request> fake_chat::requests() {
  std::lock_guard lock(m_);
  return seen_;
}

std::vector<recorded_request> fake_chat::requests_to(const std::string& suffix) {
  std::vector<recorded_request> out;
  for (auto& r : requests())
    if (r.path.ends_with(suffix)) out.push_back(std::move(r));
  return out;
}

bool fake_chat::wait_for(const std::function<bool(const std::vector<recorded_request>&)>& pred, std::chrono::seconds timeout) {
  std::unique_lock lock(m_);
  return cv_.wait_for(lock, timeout, [&] { return pred(seen_); });
}

void fake_chat::fail_callbacks(int n) {
  std::lock_guard lock(m_);
  fail_callbacks_ = n;
}

void fake_chat::slack_error(std::string e) {
  std::lock_guard lock(m_);
  slack_error_ = std::move(e);
}

}  // namespace berth::test
