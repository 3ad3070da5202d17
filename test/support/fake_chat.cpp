#include "fake_chat.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <stdexcept>

namespace berth::test {
namespace {
// Runs a CGI program with `env`, `input` on its stdin; its whole output. The input is small (git's wants and
// haves), so it is written before the output is read.
std::string run_cgi(const std::string& program, const std::vector<std::string>& env, const std::string& input) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&fa, fd);
  std::vector<char*> argv{const_cast<char*>(program.c_str()), nullptr}, envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, program.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc == 0) {
    for (std::size_t off = 0; off < input.size();) {
      auto n = write(in[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
  }
  close(in[1]);
  std::string output;
  char buf[65536];
  for (ssize_t n; rc == 0 && (n = read(out[0], buf, sizeof buf)) > 0;) output.append(buf, static_cast<std::size_t>(n));
  close(out[0]);
  if (rc != 0) throw std::runtime_error("cannot start " + program);
  int status = 0;
  waitpid(pid, &status, 0);
  return output;
}

// git http-backend behind httplib: the CGI's Status and headers become the response's.
void serve_git(const git_repos& g, const httplib::Request& req, httplib::Response& res) {
  std::vector<std::string> env = {"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1", "PATH_INFO=" + req.path,
                                  "REQUEST_METHOD=" + req.method, "PATH=/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM=1",
                                  "QUERY_STRING=" + (req.has_param("service") ? "service=" + req.get_param_value("service") : std::string()),
                                  "CONTENT_TYPE=" + req.get_header_value("Content-Type"),
                                  "CONTENT_LENGTH=" + std::to_string(req.body.size())};
  if (req.has_header("Git-Protocol")) env.push_back("GIT_PROTOCOL=" + req.get_header_value("Git-Protocol"));
  auto out = run_cgi("/usr/lib/git-core/git-http-backend", env, req.body);
  auto end = out.find("\r\n\r\n");
  std::size_t skip = 4;
  if (end == std::string::npos) end = out.find("\n\n"), skip = 2;
  if (end == std::string::npos) {
    res.status = 500;
    return;
  }
  std::string type = "application/octet-stream";
  res.status = 200;
  std::size_t pos = 0;
  const std::string head = out.substr(0, end);
  while (pos < head.size()) {
    auto eol = head.find('\n', pos);
    if (eol == std::string::npos) eol = head.size();
    std::string line = head.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = eol + 1;
    auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    auto k = line.substr(0, colon), v = line.substr(colon + 2);
    if (k == "Status") res.status = std::stoi(v);
    else if (k == "Content-Type") type = v;
    else res.set_header(k, v);
  }
  res.set_content(out.substr(end + skip), type);
}
}  // namespace

fake_chat::fake_chat(git_repos git) : git_(std::move(git)), srv_(std::make_unique<httplib::Server>()) {
  if (!git_.root.empty()) {
    // Registered before the catch-all POST: git's info/refs (GET) and upload-pack (POST).
    auto git_handle = [this](const httplib::Request& req, httplib::Response& res) {
      recorded_request r{req.method, req.path, {}, {}, 0};
      for (const auto& [k, v] : req.headers) r.headers.emplace(k, v);
      if (req.get_header_value("Authorization") != git_.authorization) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Basic realm=\"GitHub\"");
      } else {
        serve_git(git_, req, res);
      }
      r.answered = res.status;
      {
        std::lock_guard lock(m_);
        seen_.push_back(std::move(r));
      }
      cv_.notify_all();
    };
    srv_->Get(R"(/[^/]+/[^/]+/info/refs)", git_handle);
    srv_->Post(R"(/[^/]+/[^/]+/git-(upload|receive)-pack)", git_handle);
  }
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
