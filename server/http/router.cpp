#include "server/http/router.hpp"

#include <cctype>

namespace berth::http {
namespace {

// Matches `path` against `pattern` segment by segment; each "{…}" segment takes one non-empty segment.
bool path_matches(std::string_view pattern, std::string_view path, std::vector<std::string>& params) {
  for (;;) {
    if (pattern.empty() || path.empty()) return pattern.empty() && path.empty();
    if (pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    auto pe = pattern.find('/');
    auto se = path.find('/');
    auto pseg = pattern.substr(0, pe);
    auto seg = path.substr(0, se);
    if (pseg.size() >= 2 && pseg.front() == '{' && pseg.back() == '}') {
      if (seg.empty()) return false;
      params.push_back(url_decode(seg));
    } else if (pseg != seg) {
      return false;
    }
    pattern = pe == std::string_view::npos ? std::string_view() : pattern.substr(pe);
    path = se == std::string_view::npos ? std::string_view() : path.substr(se);
  }
}

}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto pair = q.substr(0, amp);
    auto eq = pair.find('=');
    if (!pair.empty())
      out[url_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

bool is_api_path(std::string_view path) { return path == "/api" || path.starts_with("/api/"); }

route_match match_route(std::span<const route> table, std::string_view method, std::string_view target,
                        unsigned listener) {
  route_match m;
  auto qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  if (qpos != std::string_view::npos) m.query = parse_query(target.substr(qpos + 1));
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  m.path = std::string(path);
  m.listener = listener;
  std::string_view as = method == "HEAD" ? std::string_view("GET") : method;
  for (const auto& r : table) {
    if (!(r.listeners & listener)) continue;
    std::vector<std::string> params;
    if (!path_matches(r.path, path, params)) continue;
    if (r.method != as) {
      m.result = match_result::method_not_allowed;
      continue;
    }
    m.result = match_result::found;
    m.row = &r;
    if (!params.empty()) m.param = params.front();
    m.params = std::move(params);
    return m;
  }
  return m;
}

}  // namespace berth::http
