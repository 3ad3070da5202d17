#include "server/storage/bundles.hpp"

#include <openssl/sha.h>
#include <zlib.h>

#include <set>
#include <vector>

#include "server/docker/tar.hpp"

namespace berth::storage {
namespace {
constexpr std::size_t max_path_bytes = 200;

refusal bad(std::string message) { return {400, "invalid_bundle", std::move(message)}; }
refusal too_large(std::string message) { return {413, "bundle_too_large", std::move(message)}; }

bool segment_ok(std::string_view s) {
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

bool path_ok(std::string_view p) {
  if (p.empty() || p.size() > max_path_bytes || p.front() == '/') return false;
  for (std::size_t start = 0;;) {
    auto slash = p.find('/', start);
    if (!segment_ok(p.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

// The checks every skill passes, however it arrived.
std::variant<skill, refusal> checked(const std::string& name, std::map<std::string, std::string> files, const bundle_limits& l) {
  if (!valid_bundle_name(name)) return bad("a skill's name must match [a-z0-9][a-z0-9-]{0,63}");
  if (files.size() > l.skill_files) return too_large("a skill has at most " + std::to_string(l.skill_files) + " files");
  std::size_t total = 0;
  for (const auto& [path, content] : files) {
    if (!path_ok(path)) return bad("\"" + path.substr(0, 100) + "\" is not a relative path of plain names (no .., no absolute paths)");
    if (content.size() > l.file_bytes) return too_large(path + " is over " + std::to_string(l.file_bytes) + " bytes");
    total += content.size();
  }
  if (total > l.skill_bytes) return too_large("the skill is over " + std::to_string(l.skill_bytes) + " bytes");
  // A file may not also be a directory of another ("a" and "a/b").
  for (const auto& [path, content] : files)
    if (auto next = files.upper_bound(path); next != files.end() && next->first.starts_with(path + "/"))
      return bad("\"" + path + "\" is both a file and a directory");
  auto top = files.find("SKILL.md");
  if (top == files.end()) return bad("a skill needs SKILL.md at its top");
  auto fm = read_frontmatter(top->second);
  if (!fm.present || fm.name.empty() || fm.description.empty())
    return bad("SKILL.md needs frontmatter with name and description (---\\nname: …\\ndescription: …\\n---)");
  return skill{name, std::move(files), fm.description};
}

std::variant<std::string, refusal> gunzip(std::string_view gz, std::size_t max_out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return bad("cannot start gzip decoding");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return bad("the body is not valid gzip");
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > max_out) {  // a small body that inflates without end is refused, not followed
      inflateEnd(&z);
      return too_large("the archive unpacks to more than " + std::to_string(max_out) + " bytes");
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      return bad("the gzip stream is truncated");
    }
  }
  inflateEnd(&z);
  return out;
}
}  // namespace

bool valid_bundle_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
    if (!ok) return false;
  }
  return true;
}

frontmatter read_frontmatter(std::string_view md) {
  frontmatter f;
  if (md.starts_with("\xEF\xBB\xBF")) md.remove_prefix(3);
  if (!md.starts_with("---\n") && !md.starts_with("---\r\n")) return f;
  md.remove_prefix(md.find('\n') + 1);
  while (!md.empty()) {
    auto nl = md.find('\n');
    std::string_view line = md.substr(0, nl);
    md.remove_prefix(nl == std::string_view::npos ? md.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "---") {
      f.present = true;
      return f;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || line.starts_with(' ')) continue;
    auto key = line.substr(0, colon);
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    if (key == "name") f.name = std::string(value);
    if (key == "description") f.description = std::string(value);
  }
  return frontmatter{};  // no closing line: not frontmatter
}

std::string sha256_hex(std::string_view data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::variant<skill, refusal> skill_from_json(const std::string& name, const nlohmann::json& body, const bundle_limits& l) {
  if (!body.is_object() || body.size() != 1 || !body.contains("files") || !body["files"].is_object())
    return bad("send {\"files\": {\"SKILL.md\": \"…\", \"path/in/skill\": \"…\"}} or a .tar.gz");
  std::map<std::string, std::string> files;
  for (const auto& [path, content] : body["files"].items()) {
    if (!content.is_string()) return bad("\"" + path.substr(0, 100) + "\" must map to the file's text");
    files[path] = content.get<std::string>();  // JSON objects cannot repeat a key that survives parsing
  }
  return checked(name, std::move(files), l);
}

std::variant<skill, refusal> skill_from_targz(const std::string& name, std::string_view gz, const bundle_limits& l) {
  // Tar headers and padding on top of the contents: room for them, then the limits below are exact.
  auto raw = gunzip(gz, l.skill_bytes + (l.skill_files * 2 + 8) * 1024);
  if (auto* r = std::get_if<refusal>(&raw)) return *r;
  std::vector<docker::tar_member> members;
  std::string why;
  if (!docker::read_tar(std::get<std::string>(raw), l.skill_bytes, l.skill_files * 2 + 8, members, why)) {
    if (why.find("exceed") != std::string::npos || why.find("more than") != std::string::npos) return too_large(why);
    return bad("not a valid tar archive: " + why);
  }
  std::map<std::string, std::string> files;
  for (auto& m : members) {
    std::string path = m.path;
    if (path.starts_with("./")) path = path.substr(2);
    if (path.starts_with(name + "/")) path = path.substr(name.size() + 1);
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (m.type == '5') continue;  // directories: implied by their files
    if (m.type != '0' && m.type != '7')
      return bad("\"" + m.path.substr(0, 100) + "\" is not a regular file (links, devices and fifos are refused)");
    if (path.empty() || !path_ok(path)) return bad("\"" + m.path.substr(0, 100) + "\" is not a relative path of plain names (no .., no absolute paths)");
    if (!files.emplace(path, std::move(m.content)).second) return bad("\"" + path + "\" is in the archive twice");
  }
  return checked(name, std::move(files), l);
}

std::string skill_archive(const skill& s) {
  std::vector<docker::tar_entry> entries;
  std::set<std::string> dirs;
  for (const auto& [path, content] : s.files)
    for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) dirs.insert(path.substr(0, slash));
  for (const auto& d : dirs) entries.push_back({d, {}, 0555, true});
  for (const auto& [path, content] : s.files)
    entries.push_back({path, content, content.starts_with("#!") ? 0555u : 0444u, false});
  return docker::tar_files(entries, 0);
}

std::variant<skill, refusal> skill_from_archive(const std::string& name, std::string_view tar, const bundle_limits& l) {
  std::vector<docker::tar_member> members;
  std::string why;
  if (!docker::read_tar(tar, l.skill_bytes, l.skill_files * 2 + 8, members, why)) return bad("stored skill unreadable: " + why);
  std::map<std::string, std::string> files;
  for (auto& m : members)
    if (m.type == '0') files.emplace(m.path, std::move(m.content));
  return checked(name, std::move(files), l);
}

std::variant<agent, refusal> agent_from_markdown(const std::string& name, std::string_view text, const bundle_limits& l) {
  if (!valid_bundle_name(name)) return bad("an agent's name must match [a-z0-9][a-z0-9-]{0,63}");
  if (text.size() > l.agent_bytes) return too_large("an agent is at most " + std::to_string(l.agent_bytes) + " bytes");
  auto fm = read_frontmatter(text);
  if (!fm.present || fm.name.empty() || fm.description.empty())
    return bad("an agent is markdown with frontmatter name and description (---\\nname: …\\ndescription: …\\n---)");
  return agent{name, std::string(text), fm.description};
}

}  // namespace berth::storage
