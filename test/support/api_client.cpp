#include "api_client.hpp"

#include <httplib.h>

#include <stdexcept>

namespace berth::test {

namespace {
httplib::Headers make_headers(const std::string& key, const std::map<std::string, std::string>& extra) {
  httplib::Headers h;
  if (!key.empty()) h.emplace("X-API-Key", key);
  for (const auto& [k, v] : extra) h.emplace(k, v);
  return h;
}

http_result to_result(const httplib::Result& r) {
  if (!r) throw std::runtime_error("request failed: " + httplib::to_string(r.error()));
  http_result out;
  out.status = r->status;
  out.body = r->body;
  for (const auto& [k, v] : r->headers) out.headers.emplace(k, v);
  return out;
}
}  // namespace

api_client::api_client(int port, std::string key) : port_(port), key_(std::move(key)) {}

http_result api_client::get(const std::string& path, std::map<std::string, std::string> headers) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(30, 0);
  return to_result(c.Get(path.c_str(), make_headers(key_, headers)));
}

http_result api_client::post(const std::string& path, const std::string& body, std::map<std::string, std::string> headers) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(30, 0);
  std::string ct = "application/json";
  if (auto it = headers.find("Content-Type"); it != headers.end()) {
    ct = it->second;
    headers.erase(it);
  }
  return to_result(c.Post(path.c_str(), make_headers(key_, headers), body, ct.c_str()));
}

http_result api_client::put(const std::string& path, const std::string& body, const std::string& content_type) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(30, 0);
  return to_result(c.Put(path.c_str(), make_headers(key_, {}), body, content_type.c_str()));
}

http_result api_client::del(const std::string& path, std::map<std::string, std::string> headers) {
  httplib::Client c("127.0.0.1", port_);
  return to_result(c.Delete(path.c_str(), make_headers(key_, headers)));
}

std::string api_client::dashboard_login(const std::string& key, std::map<std::string, std::string> headers) {
  headers["Content-Type"] = "application/x-www-form-urlencoded";
  auto r = post("/dashboard/login", "key=" + key, std::move(headers));
  auto set = r.header("Set-Cookie");
  if (r.status != 303 || r.header("Location") != "/dashboard" || set.find(';') == std::string::npos)
    throw std::runtime_error("dashboard login: " + std::to_string(r.status) + " " + r.body);
  return set.substr(0, set.find(';'));
}

std::string api_client::start_run(const nlohmann::json& body) {
  auto r = post("/api/v1/runs", body.dump());
  if (r.status != 202) throw std::runtime_error("start_run: " + std::to_string(r.status) + " " + r.body);
  return r.json()["id"].get<std::string>();
}

void parse_sse(std::string& buf, sse_stream& out, const std::function<bool(const sse_event&)>& on_event, bool& stop) {
  std::size_t end;
  while ((end = buf.find("\n\n")) != std::string::npos) {
    std::string frame = buf.substr(0, end);
    buf.erase(0, end + 2);
    sse_event e;
    e.at = std::chrono::steady_clock::now();
    bool any = false;
    std::size_t pos = 0;
    while (pos <= frame.size()) {
      auto nl = frame.find('\n', pos);
      std::string line = frame.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? frame.size() + 1 : nl + 1;
      if (line == ": connected") out.saw_connected = true;
      if (line.rfind("id: ", 0) == 0) { e.id = std::stoll(line.substr(4)); any = true; }
      else if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
      else if (line.rfind("data: ", 0) == 0) e.data += (e.data.empty() ? "" : "\n") + line.substr(6);
    }
    if (!any) continue;
    out.events.push_back(e);
    if (on_event && !on_event(e)) stop = true;
    if (stop) return;
  }
}

sse_stream api_client::stream(const std::string& method, const std::string& path, const std::string& body,
                              std::map<std::string, std::string> headers,
                              const std::function<bool(const sse_event&)>& on_event) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(60, 0);
  sse_stream out;
  std::string buf;
  bool stop = false;
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = make_headers(key_, headers);
  req.headers.emplace("Accept", "text/event-stream");
  if (!body.empty()) {
    req.body = body;
    req.headers.emplace("Content-Type", "application/json");
  }
  req.response_handler = [&](const httplib::Response& r) {
    out.status = r.status;
    for (const auto& [k, v] : r.headers) out.headers.emplace(k, v);
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    out.raw.append(data, n);
    buf.append(data, n);
    parse_sse(buf, out, on_event, stop);
    return !stop;
  };
  httplib::Response res;
  httplib::Error err;
  c.send(req, res, err);
  if (out.status == 0) out.status = res.status;
  if (out.status >= 400 && out.raw.empty()) out.raw = res.body;
  return out;
}

nlohmann::json api_client::wait_done(const std::string& id) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto s = stream("GET", "/api/v1/runs/" + id + "/events");
    for (const auto& e : s.events)
      if (e.type == "done") return e.json();
  }
  throw std::runtime_error("run " + id + " never reached done");
}

}  // namespace berth::test
