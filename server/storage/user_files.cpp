#include "server/storage/user_files.hpp"

#include <algorithm>

namespace berth::storage {
namespace {
std::string scope_dir(const char* kind, const std::string& user) {
  return std::string(kind) + (user.empty() ? "/global/" : "/users/" + user + "/");
}

// "skills/users/alice/foo.tar" → "foo"
std::string name_of(const std::string& key, std::string_view ext) {
  auto slash = key.rfind('/');
  auto base = key.substr(slash + 1);
  return base.ends_with(ext) ? base.substr(0, base.size() - ext.size()) : std::string();
}
}  // namespace

bundle_limits bundle_limits_of(const config& c) {
  bundle_limits l;
  l.file_bytes = static_cast<std::size_t>(c.skill_max_file_bytes);
  l.skill_bytes = static_cast<std::size_t>(c.skill_max_bytes);
  l.agent_bytes = static_cast<std::size_t>(c.agent_max_bytes);
  return l;
}

std::string user_files::skill_key(const std::string& user, const std::string& name) const {
  return scope_dir("skills", user) + name + ".tar";
}
std::string user_files::agent_key(const std::string& user, const std::string& name) const {
  return scope_dir("agents", user) + name + ".md";
}

skill user_files::parse_skill(const std::string& key, const std::string& name, const std::string& raw, const std::string& hash) {
  {
    std::lock_guard lock(m_);
    if (auto it = skill_cache_.find(hash); it != skill_cache_.end() && it->second.name == name) return it->second;
  }
  auto parsed = skill_from_archive(name, raw, limits_);
  if (auto* r = std::get_if<refusal>(&parsed)) throw storage_error("stored skill " + key + " is unreadable: " + r->message);
  std::lock_guard lock(m_);
  return skill_cache_[hash] = std::get<skill>(parsed);
}

agent user_files::parse_agent(const std::string& key, const std::string& name, const std::string& raw) {
  auto parsed = agent_from_markdown(name, raw, limits_);
  if (auto* r = std::get_if<refusal>(&parsed)) throw storage_error("stored agent " + key + " is unreadable: " + r->message);
  return std::get<agent>(parsed);
}

std::optional<skill> user_files::load_skill(const std::string& key, const std::string& name) {
  auto raw = fs_.get(key);
  if (!raw) return std::nullopt;
  return parse_skill(key, name, *raw, sha256_hex(*raw));
}

std::optional<agent> user_files::load_agent(const std::string& key, const std::string& name) {
  auto raw = fs_.get(key);
  if (!raw) return std::nullopt;
  return parse_agent(key, name, *raw);
}

// Each object of a scope read once: its listing entry and its parsed form together.
template <class T, class Parse>
std::vector<std::pair<listed, T>> user_files::scan(const char* kind, std::string_view ext, const std::string& user, Parse parse) {
  std::vector<std::pair<listed, T>> out;
  for (const auto& key : fs_.list(scope_dir(kind, user))) {
    auto name = name_of(key, ext);
    if (!valid_bundle_name(name)) continue;
    auto raw = fs_.get(key);
    if (!raw) continue;  // removed meanwhile
    const auto hash = sha256_hex(*raw);
    T parsed = parse(key, name, *raw, hash);
    listed l{name, user.empty() ? "global" : "user", hash, raw->size(), parsed.description};
    out.emplace_back(std::move(l), std::move(parsed));
  }
  return out;
}

std::vector<std::pair<listed, skill>> user_files::scan_skills(const std::string& user) {
  return scan<skill>("skills", ".tar", user, [this](const std::string& key, const std::string& name, const std::string& raw,
                                                   const std::string& hash) { return parse_skill(key, name, raw, hash); });
}

std::vector<std::pair<listed, agent>> user_files::scan_agents(const std::string& user) {
  return scan<agent>("agents", ".md", user, [this](const std::string& key, const std::string& name, const std::string& raw,
                                                   const std::string&) { return parse_agent(key, name, raw); });
}

std::vector<listed> user_files::skills(const std::string& user) {
  std::vector<listed> out;
  for (auto& [l, s] : scan_skills(user)) out.push_back(std::move(l));
  return out;
}

std::vector<listed> user_files::agents(const std::string& user) {
  std::vector<listed> out;
  for (auto& [l, a] : scan_agents(user)) out.push_back(std::move(l));
  return out;
}

std::optional<skill> user_files::get_skill(const std::string& user, const std::string& name) {
  return load_skill(skill_key(user, name), name);
}
std::optional<agent> user_files::get_agent(const std::string& user, const std::string& name) {
  return load_agent(agent_key(user, name), name);
}

namespace {
std::size_t content_bytes(const skill& s) {
  std::size_t n = 0;
  for (const auto& [path, content] : s.files) n += content.size();
  return n;
}
}  // namespace

// What a scope keeps, counted as the files' contents (not the archives' headers and padding).
std::size_t user_files::scope_bytes(const std::string& user, const std::string& except_key) {
  std::size_t total = 0;
  for (const auto& key : fs_.list(scope_dir("skills", user)))
    if (key != except_key)
      if (auto s = load_skill(key, name_of(key, ".tar"))) total += content_bytes(*s);
  for (const auto& key : fs_.list(scope_dir("agents", user)))
    if (key != except_key)
      if (auto raw = fs_.get(key)) total += raw->size();
  return total;
}

std::optional<refusal> user_files::put_skill(const std::string& user, const skill& s) {
  const auto key = skill_key(user, s.name);
  const auto tar = skill_archive(s);
  if (scope_bytes(user, key) + content_bytes(s) > user_max_)
    return refusal{413, "quota_exceeded", "the skills and agents of " + (user.empty() ? std::string("the global scope") : user) +
                                              " would exceed BERTH_USER_FILES_MAX_BYTES (" + std::to_string(user_max_) + ")"};
  fs_.put(key, tar);
  return std::nullopt;
}

std::optional<refusal> user_files::put_agent(const std::string& user, const agent& a) {
  const auto key = agent_key(user, a.name);
  if (scope_bytes(user, key) + a.text.size() > user_max_)
    return refusal{413, "quota_exceeded", "the skills and agents of " + (user.empty() ? std::string("the global scope") : user) +
                                              " would exceed BERTH_USER_FILES_MAX_BYTES (" + std::to_string(user_max_) + ")"};
  fs_.put(key, a.text);
  return std::nullopt;
}

bool user_files::remove_skill(const std::string& user, const std::string& name) { return fs_.remove(skill_key(user, name)); }
bool user_files::remove_agent(const std::string& user, const std::string& name) { return fs_.remove(agent_key(user, name)); }
std::optional<std::string> user_files::mcp(const std::string& user) { return fs_.get("mcp/users/" + user + ".json"); }
void user_files::put_mcp(const std::string& user, const std::string& text) { fs_.put("mcp/users/" + user + ".json", text); }
bool user_files::remove_mcp(const std::string& user) { return fs_.remove("mcp/users/" + user + ".json"); }

run_set user_files::set_for(const std::string& user, const std::optional<std::vector<std::string>>& only_skills,
                            const std::optional<std::vector<std::string>>& only_agents) {
  auto wanted = [](const std::optional<std::vector<std::string>>& only, const std::string& name) {
    return !only || std::find(only->begin(), only->end(), name) != only->end();
  };
  run_set set;
  std::map<std::string, std::string> skill_hashes, agent_hashes;  // of the stored objects: their identities
  for (const auto& scope : {std::string(), user}) {  // global first: the user's own replace same-named ones
    for (auto& [l, s] : scan_skills(scope))
      if (wanted(only_skills, l.name)) {
        skill_hashes[l.name] = l.sha256;
        set.skills[l.name] = std::move(s);
      }
    for (auto& [l, a] : scan_agents(scope))
      if (wanted(only_agents, l.name)) {
        agent_hashes[l.name] = l.sha256;
        set.agents[l.name] = std::move(a);
      }
  }
  if (auto m = mcp(user)) set.mcp = *m;
  std::string identity;
  for (const auto& [name, hash] : skill_hashes) identity += "skill " + name + " " + hash + "\n";
  for (const auto& [name, hash] : agent_hashes) identity += "agent " + name + " " + hash + "\n";
  if (!set.mcp.empty()) identity += "mcp " + sha256_hex(set.mcp) + "\n";
  if (!identity.empty()) set.sha256 = sha256_hex(identity);
  return set;
}

}  // namespace berth::storage
