// What users upload: skills (a small file tree with SKILL.md) and subagents (one markdown file), checked and
// put into the one form berth keeps them in. Pure: bytes in, a bundle or a refusal out.
//   - names: [a-z0-9][a-z0-9-]{0,63};
//   - a skill's paths: relative, '/'-separated segments of [A-Za-z0-9._-] (no "." or ".."), ≤ 200 bytes, no
//     duplicates; regular files only (a .tar.gz holding a symlink, hard link, device or fifo is refused);
//   - SKILL.md at the top with frontmatter `name` and `description`; an agent likewise;
//   - sizes: per file, per skill and per agent as configured (413 above).
// A skill is kept as a canonical tar (sorted paths, fixed times and modes), so its SHA-256 is its identity.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace berth::storage {

struct bundle_limits {
  std::size_t file_bytes = 256 * 1024;
  std::size_t skill_bytes = 1024 * 1024;
  std::size_t skill_files = 100;
  std::size_t agent_bytes = 64 * 1024;
};

struct refusal {
  int status = 400;  // 400 malformed, 413 too large
  std::string code;
  std::string message;
};

struct frontmatter {
  bool present = false;
  std::string name;
  std::string description;
};

struct skill {
  std::string name;
  std::map<std::string, std::string> files;  // path → content
  std::string description;
};

struct agent {
  std::string name;
  std::string text;
  std::string description;
};

bool valid_bundle_name(std::string_view name);
frontmatter read_frontmatter(std::string_view markdown);
std::string sha256_hex(std::string_view data);

// {"files": {"SKILL.md": "…", "scripts/x.sh": "…"}}
std::variant<skill, refusal> skill_from_json(const std::string& name, const nlohmann::json& body, const bundle_limits& l);
// A gzip'd tar (its directories are implied by its files; a leading "./" or "<name>/" is taken off).
std::variant<skill, refusal> skill_from_targz(const std::string& name, std::string_view gz, const bundle_limits& l);
// The canonical tar berth keeps, and back.
std::string skill_archive(const skill& s);
std::variant<skill, refusal> skill_from_archive(const std::string& name, std::string_view tar, const bundle_limits& l);

std::variant<agent, refusal> agent_from_markdown(const std::string& name, std::string_view text, const bundle_limits& l);

}  // namespace berth::storage
