// Every skill or agent a user can upload: a .tar.gz (also read as a bare tar) either becomes a skill whose
// every path is a plain relative one and whose contents keep within the limits — and whose canonical archive
// reads back to the same files — or is refused with 400/413; an agent's markdown likewise. Never a crash,
// never unbounded memory (the inflate cap).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "server/docker/tar.hpp"
#include "server/storage/bundles.hpp"

namespace {
void check(const std::variant<berth::storage::skill, berth::storage::refusal>& v, const berth::storage::bundle_limits& l) {
  if (auto* r = std::get_if<berth::storage::refusal>(&v)) {
    if (r->status != 400 && r->status != 413) std::abort();
    return;
  }
  const auto& s = std::get<berth::storage::skill>(v);
  std::size_t total = 0;
  for (const auto& [path, content] : s.files) {
    const bool dotdot = path == ".." || path.starts_with("../") || path.ends_with("/..") || path.find("/../") != std::string::npos;
    if (path.empty() || path.front() == '/' || dotdot || content.size() > l.file_bytes) std::abort();
    total += content.size();
  }
  if (total > l.skill_bytes || s.files.size() > l.skill_files || !s.files.count("SKILL.md")) std::abort();
  auto back = berth::storage::skill_from_archive(s.name, berth::storage::skill_archive(s), l);
  if (!std::holds_alternative<berth::storage::skill>(back) || std::get<berth::storage::skill>(back).files != s.files) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  berth::storage::bundle_limits l;
  l.file_bytes = 4096;
  l.skill_bytes = 16384;
  l.skill_files = 16;
  check(berth::storage::skill_from_targz("fuzz", in, l), l);
  check(berth::storage::skill_from_archive("fuzz", in, l), l);  // the bare tar reader behind both
  auto a = berth::storage::agent_from_markdown("fuzz", in, l);
  if (auto* r = std::get_if<berth::storage::refusal>(&a); r && r->status != 400 && r->status != 413) std::abort();
  return 0;
}
