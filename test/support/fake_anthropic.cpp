#include "fake_anthropic.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <stdexcept>
#include <vector>

namespace berth::test {

fake_anthropic::fake_anthropic(std::map<std::string, std::string> env) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::string script = std::string(BERTH_SOURCE_DIR) + "/test/fake_anthropic/server.js";
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> kv;
  for (const auto& [k, v] : env) kv.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : kv) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 2);
    const char* argv[] = {"node", script.c_str(), "0", nullptr};
    ::execvpe("node", const_cast<char* const*>(argv), envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(out[0]);  // later output (none expected on stdout) would get SIGPIPE-free EPIPE in node
  if (line.rfind("listening ", 0) != 0) throw std::runtime_error("fake anthropic did not start: '" + line + "'");
  port_ = std::stoi(line.substr(10));
  auto sp = line.find(' ', 10);  // with TLS: "listening <tls port> <plain port for /_requests>"
  admin_port_ = sp == std::string::npos ? port_ : std::stoi(line.substr(sp + 1));
}

fake_anthropic::~fake_anthropic() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

nlohmann::json fake_anthropic::requests() {
  httplib::Client c("127.0.0.1", admin_port_);
  auto r = c.Get("/_requests");
  if (!r || r->status != 200) throw std::runtime_error("fake anthropic: /_requests failed");
  return nlohmann::json::parse(r->body);
}

nlohmann::json fake_anthropic::message_requests() {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : requests())
    if (r.value("path", "") == "/v1/messages" && r.value("method", "") == "POST") out.push_back(r);
  return out;
}

}  // namespace berth::test
