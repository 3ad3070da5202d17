// What the dashboard shows about the machine: load, memory, berthd's own footprint. Parsers are pure
// (tested on fixed text); read_host_facts reads /proc.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace berth::runs {

struct host_facts {
  std::array<double, 3> load{};  // 1, 5, 15 minutes
  int cpus = 0;
  std::int64_t mem_total_bytes = 0;
  std::int64_t mem_available_bytes = 0;
  std::int64_t berthd_rss_bytes = 0;
};

// /proc/loadavg → the three averages; false when malformed.
bool parse_loadavg(std::string_view text, std::array<double, 3>& out);
// A "Key:   123 kB" field of /proc/meminfo or /proc/self/status, in bytes; -1 when absent.
std::int64_t parse_kib_field(std::string_view text, std::string_view key);
host_facts read_host_facts();

}  // namespace berth::runs
