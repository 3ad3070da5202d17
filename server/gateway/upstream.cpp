#include "server/gateway/upstream.hpp"

#include "server/gateway/git_route.hpp"

#include <boost/beast/http/field.hpp>

#include <cctype>
#include <vector>

namespace berth::gateway {
namespace http = boost::beast::http;

std::optional<upstream> parse_upstream(std::string_view url) {
  upstream u;
  if (url.empty()) return u;
  if (url.starts_with("https://")) {
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    u.tls = false;
    u.port = "80";
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  auto slash = url.find('/');
  auto authority = url.substr(0, slash);
  if (slash != std::string_view::npos) u.prefix = std::string(url.substr(slash));
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  for (char c : port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  u.host = std::string(host);
  if (!port.empty()) u.port = std::string(port);
  if (u.host.empty()) return std::nullopt;
  return u;
}

bool is_model_api(std::string_view method, std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  return method == "POST" && (path == "/v1/messages" || path == "/v1/messages/count_tokens");
}

std::string presented_token(const http::fields& f) {
  if (auto k = f.find("x-api-key"); k != f.end()) return std::string(k->value());
  if (auto a = f.find(http::field::authorization); a != f.end()) {
    auto v = a->value();
    if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) return std::string(v.substr(7));
  }
  return {};
}

namespace {
// Hop-by-hop, proxy, credential and client-identity headers go; Host names the upstream.
void clean_for(http::fields& f, const upstream& u) {
  for (auto name : {"x-api-key", "authorization", "proxy-authorization", "proxy-connection", "connection",
                    "keep-alive", "te", "trailer", "upgrade", "host", "cookie", "forwarded", "x-forwarded-for"})
    f.erase(name);
  const bool default_port = (u.tls && u.port == "443") || (!u.tls && u.port == "80");
  f.set(http::field::host, (u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host) +
                               (default_port ? "" : ":" + u.port));
}
}  // namespace

void rewrite_for_git(http::fields& f, const upstream& u, const std::string& github_token) {
  clean_for(f, u);
  f.set(http::field::authorization, git_basic_auth(github_token));
}

void rewrite_for_upstream(http::fields& f, const upstream& u, const std::string& api_key, const std::string& oauth_token) {
  clean_for(f, u);
  f.erase(http::field::accept_encoding);
  if (!api_key.empty()) f.set("x-api-key", api_key);
  else f.set(http::field::authorization, "Bearer " + oauth_token);
}

}  // namespace berth::gateway
