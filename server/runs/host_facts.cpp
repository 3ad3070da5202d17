#include "server/runs/host_facts.hpp"

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/strings.hpp"

namespace berth::runs {

bool parse_loadavg(std::string_view text, std::array<double, 3>& out) {
  for (auto& v : out) {
    text = trim(text);
    auto sp = text.find(' ');
    auto n = parse_double(text.substr(0, sp));
    if (!n) return false;
    v = *n;
    if (sp == std::string_view::npos) return &v == &out.back();
    text.remove_prefix(sp);
  }
  return true;
}

std::int64_t parse_kib_field(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    auto line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      auto rest = trim(line.substr(key.size() + 1));
      auto value = parse_int(rest.substr(0, rest.find(' ')));
      return value ? *value * 1024 : -1;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return -1;
}

namespace {
std::string slurp(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

host_facts read_host_facts() {
  host_facts f;
  parse_loadavg(slurp("/proc/loadavg"), f.load);
  f.cpus = static_cast<int>(std::thread::hardware_concurrency());
  auto mem = slurp("/proc/meminfo");
  f.mem_total_bytes = parse_kib_field(mem, "MemTotal");
  f.mem_available_bytes = parse_kib_field(mem, "MemAvailable");
  f.berthd_rss_bytes = parse_kib_field(slurp("/proc/self/status"), "VmRSS");
  return f;
}

}  // namespace berth::runs
