// Configuration from the environment: KEY=VALUE lines. parse_config either returns a config or throws
// config_error with its problems; never anything else, never a crash.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "common/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> env{{"BERTH_API_KEYS", "0123456789abcdef"}};
  while (!in.empty()) {
    auto nl = in.find('\n');
    auto line = in.substr(0, nl);
    auto eq = line.find('=');
    if (eq != std::string_view::npos) env["BERTH_" + std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  try {
    auto c = berth::parse_config([&](const std::string& k) -> std::optional<std::string> {
      auto it = env.find(k);
      if (it == env.end()) return std::nullopt;
      return it->second;
    });
    (void)berth::describe_config(c);
  } catch (const berth::config_error&) {
  }
  return 0;
}
