#include "server/docker/docker_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>

#include <atomic>

#include <httplib.h>

#include "common/json_bounded.hpp"

namespace berth::docker {
namespace {
std::atomic<std::uint64_t> g_errors{0};
constexpr int call_timeout_s = 30;
constexpr int stream_open_timeout_ms = 30000;
}  // namespace

std::string url_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else { out += '%'; out += hex[c >> 4]; out += hex[c & 15]; }
  }
  return out;
}

std::uint64_t docker_api_errors() { return g_errors.load(); }

docker_client::docker_client(std::string socket_path) : socket_(std::move(socket_path)) {}

nlohmann::json docker_client::transaction(const std::string& method, const std::string& path,
                                          const nlohmann::json* body, int timeout_s, bool allow_404, bool allow_304) {
  httplib::Client cli(socket_);
  cli.set_address_family(AF_UNIX);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(timeout_s, 0);
  cli.set_write_timeout(timeout_s, 0);
  httplib::Headers headers = {{"Host", "localhost"}};
  std::string payload = body ? body->dump() : std::string();
  httplib::Result res = method == "GET"      ? cli.Get(path.c_str(), headers)
                        : method == "DELETE" ? cli.Delete(path.c_str(), headers)
                                             : cli.Post(path.c_str(), headers, payload, "application/json");
  if (!res) {
    ++g_errors;
    throw docker_error(0, method + " " + path + ": docker unreachable (" + httplib::to_string(res.error()) + ")");
  }
  int st = res->status;
  if (st == 404 && allow_404) return nullptr;
  if (st == 304 && allow_304) return nullptr;
  if (st >= 400) {
    ++g_errors;
    auto j = parse_json(res->body);
    std::string msg = j.is_object() && j.contains("message") && j["message"].is_string()
                          ? j["message"].get<std::string>() : res->body;
    throw docker_error(st, method + " " + path + ": " + std::to_string(st) + " " + msg);
  }
  if (res->body.empty()) return nullptr;
  return parse_json(res->body);
}

nlohmann::json docker_client::version() { return transaction("GET", "/version", nullptr, 5); }

nlohmann::json docker_client::info() { return transaction("GET", "/info", nullptr, 5); }

void docker_client::ping_or_throw() { transaction("GET", "/_ping", nullptr, 3); }

bool docker_client::ping() {
  try {
    ping_or_throw();
    return true;
  } catch (const docker_error&) {
    return false;
  }
}

std::string docker_client::create_container(const std::string& name, const nlohmann::json& body) {
  auto j = transaction("POST", "/containers/create?name=" + url_escape(name), &body, call_timeout_s);
  if (!j.is_object() || !j.contains("Id")) throw docker_error(500, "create " + name + ": no Id in answer");
  return j["Id"].get<std::string>();
}

void docker_client::start(const std::string& id) {
  transaction("POST", "/containers/" + url_escape(id) + "/start", nullptr, call_timeout_s, false, true);
}

void docker_client::stop(const std::string& id, int grace_s) {
  transaction("POST", "/containers/" + url_escape(id) + "/stop?t=" + std::to_string(grace_s), nullptr,
              call_timeout_s + grace_s, true, true);
}

void docker_client::kill(const std::string& id) {
  try {
    transaction("POST", "/containers/" + url_escape(id) + "/kill", nullptr, call_timeout_s, true);
  } catch (const docker_error& e) {
    if (e.status != 409) throw;  // 409: not running, which is what we wanted
  }
}

void docker_client::remove(const std::string& id) {
  transaction("DELETE", "/containers/" + url_escape(id) + "?force=1&v=0", nullptr, call_timeout_s, true);
}

nlohmann::json docker_client::inspect_json(const std::string& id) {
  return transaction("GET", "/containers/" + url_escape(id) + "/json", nullptr, call_timeout_s, true);
}

std::optional<container_state> docker_client::inspect(const std::string& id) {
  auto j = inspect_json(id);
  if (j.is_null()) return std::nullopt;
  container_state s;
  s.id = j.value("Id", "");
  s.name = j.value("Name", "");
  if (!s.name.empty() && s.name[0] == '/') s.name.erase(0, 1);
  const auto& st = j["State"];
  s.status = st.value("Status", "");
  s.running = st.value("Running", false);
  s.oom_killed = st.value("OOMKilled", false);
  s.exit_code = st.value("ExitCode", 0);
  s.error = st.value("Error", "");
  s.started_at = st.value("StartedAt", "");
  s.finished_at = st.value("FinishedAt", "");
  if (j.contains("Config") && j["Config"].contains("Labels") && j["Config"]["Labels"].is_object())
    s.labels = j["Config"]["Labels"].get<std::map<std::string, std::string>>();
  return s;
}

int docker_client::wait_exit(const std::string& id) {
  auto j = transaction("POST", "/containers/" + url_escape(id) + "/wait?condition=not-running", nullptr, 3600);
  return j.is_object() ? j.value("StatusCode", -1) : -1;
}

std::vector<container_summary> docker_client::list(const std::string& label_filter, bool all) {
  nlohmann::json filters = {{"label", {label_filter}}};
  auto j = transaction("GET", std::string("/containers/json?all=") + (all ? "1" : "0") + "&filters=" +
                                  url_escape(filters.dump()), nullptr, call_timeout_s);
  std::vector<container_summary> out;
  if (!j.is_array()) return out;
  for (const auto& c : j) {
    container_summary s;
    s.id = c.value("Id", "");
    if (c.contains("Names") && c["Names"].is_array() && !c["Names"].empty()) {
      s.name = c["Names"][0].get<std::string>();
      if (!s.name.empty() && s.name[0] == '/') s.name.erase(0, 1);
    }
    s.state = c.value("State", "");
    s.created = c.value("Created", std::int64_t{0});
    if (c.contains("Labels") && c["Labels"].is_object())
      s.labels = c["Labels"].get<std::map<std::string, std::string>>();
    out.push_back(std::move(s));
  }
  return out;
}

std::string docker_client::image_id(const std::string& image) {
  auto j = transaction("GET", "/images/" + url_escape(image) + "/json", nullptr, call_timeout_s, true);
  return j.is_object() ? j.value("Id", "") : std::string();
}

void docker_client::rename(const std::string& id, const std::string& name) {
  transaction("POST", "/containers/" + url_escape(id) + "/rename?name=" + url_escape(name), nullptr, call_timeout_s);
}

std::string docker_client::ensure_volume(const std::string& name, const std::map<std::string, std::string>& labels) {
  nlohmann::json body = {{"Name", name}, {"Labels", labels}};
  auto j = transaction("POST", "/volumes/create", &body, call_timeout_s);  // idempotent: an existing volume is returned
  return j.is_object() && j.contains("Mountpoint") && j["Mountpoint"].is_string() ? j["Mountpoint"].get<std::string>() : "";
}

std::vector<volume_usage> docker_client::volumes_with_usage() {
  auto j = transaction("GET", "/system/df", nullptr, call_timeout_s);
  std::vector<volume_usage> out;
  if (!j.is_object() || !j.contains("Volumes") || !j["Volumes"].is_array()) return out;
  for (const auto& v : j["Volumes"]) {
    volume_usage u;
    u.name = v.value("Name", "");
    if (v.contains("Labels") && v["Labels"].is_object())
      for (auto it = v["Labels"].begin(); it != v["Labels"].end(); ++it)
        if (it.value().is_string()) u.labels[it.key()] = it.value().get<std::string>();
    if (v.contains("UsageData") && v["UsageData"].is_object()) {
      u.size = v["UsageData"].value("Size", std::int64_t{-1});
      u.ref_count = v["UsageData"].value("RefCount", std::int64_t{0});
    }
    out.push_back(std::move(u));
  }
  return out;
}

std::vector<std::string> docker_client::list_volumes(const std::string& label) {
  nlohmann::json filters = {{"label", {label}}};
  auto j = transaction("GET", "/volumes?filters=" + url_escape(filters.dump()), nullptr, call_timeout_s);
  std::vector<std::string> out;
  if (j.is_object() && j.contains("Volumes") && j["Volumes"].is_array())
    for (const auto& v : j["Volumes"])
      if (v.is_object()) out.push_back(v.value("Name", ""));
  return out;
}

void docker_client::remove_volume(const std::string& name) {
  transaction("DELETE", "/volumes/" + url_escape(name) + "?force=1", nullptr, call_timeout_s, true);
}

void docker_client::put_archive(const std::string& id, const std::string& dir, const std::string& tar) {
  httplib::Client cli(socket_);
  cli.set_address_family(AF_UNIX);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(call_timeout_s, 0);
  std::string path = "/containers/" + url_escape(id) + "/archive?path=" + url_escape(dir);
  auto res = cli.Put(path.c_str(), {{"Host", "localhost"}}, tar, "application/x-tar");
  if (!res) throw docker_error(0, "PUT " + path + ": docker unreachable (" + httplib::to_string(res.error()) + ")");
  if (res->status >= 400) throw docker_error(res->status, "PUT " + path + ": " + std::to_string(res->status) + " " + res->body);
}

bool docker_client::path_exists(const std::string& id, const std::string& p) {
  httplib::Client cli(socket_);
  cli.set_address_family(AF_UNIX);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(call_timeout_s, 0);
  std::string path = "/containers/" + url_escape(id) + "/archive?path=" + url_escape(p);
  auto res = cli.Head(path.c_str(), {{"Host", "localhost"}});
  if (!res) throw docker_error(0, "HEAD " + path + ": docker unreachable (" + httplib::to_string(res.error()) + ")");
  if (res->status == 404) return false;
  if (res->status >= 400) throw docker_error(res->status, "HEAD " + path + ": " + std::to_string(res->status));
  return true;
}

unix_stream docker_client::wait_next_exit(const std::string& id) {
  return unix_stream::open(socket_, "POST", "/containers/" + url_escape(id) + "/wait?condition=next-exit", "",
                           stream_open_timeout_ms);
}

std::optional<int> docker_client::read_wait(unix_stream& s, int timeout_ms) {
  std::string body;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (!s.has_buffered()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{s.fd(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    }
    auto r = s.read();
    body += r.data;
    auto j = parse_json(body);
    if (j.is_object() && j.contains("StatusCode")) return j["StatusCode"].get<int>();
    if (r.eof || body.size() > 65536) return std::nullopt;
  }
}

unix_stream docker_client::attach(const std::string& id) {
  return unix_stream::open(socket_, "POST",
                           "/containers/" + url_escape(id) + "/attach?stream=1&stdin=1&stdout=1&stderr=1", "",
                           stream_open_timeout_ms, true);
}

unix_stream docker_client::follow_logs(const std::string& id) {
  return unix_stream::open(socket_, "GET", "/containers/" + url_escape(id) + "/logs?follow=1&stdout=1&stderr=1",
                           "", stream_open_timeout_ms);
}

unix_stream docker_client::events(const std::string& label, std::int64_t since_unix) {
  nlohmann::json filters = {{"type", {"container"}}, {"label", {label}}};
  return unix_stream::open(socket_, "GET",
                           "/events?since=" + std::to_string(since_unix) + "&filters=" + url_escape(filters.dump()),
                           "", stream_open_timeout_ms);
}

}  // namespace berth::docker
