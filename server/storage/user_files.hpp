// Users' skills, subagents and MCP settings over a file_store, and the set a run gets. Global ones are shared
// by every user (managed with admin keys); a user's own win over a global one of the same name. Keys:
//   skills/global/<name>.tar   skills/users/<user>/<name>.tar   (canonical tars, bundles.hpp)
//   agents/global/<name>.md    agents/users/<user>/<name>.md
//   mcp/users/<user>.json
// A listing or a run's set reads each object once; parsed skills are cached by content hash. Blocking;
// storage failures (and a stored object that no longer parses) throw storage_error.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "server/storage/bundles.hpp"
#include "server/storage/file_store.hpp"

namespace berth::storage {

struct listed {
  std::string name;
  std::string scope;  // "global" | "user"
  std::string sha256;
  std::size_t bytes = 0;
  std::string description;
};

// What a run sees: every skill and agent of global ∪ user (narrowed by the request), and the MCP config.
struct run_set {
  std::map<std::string, skill> skills;
  std::map<std::string, agent> agents;
  std::string mcp;     // the user's {"mcpServers": …} JSON text, empty for none
  std::string sha256;  // of all of the above: the identity of the set (empty when the set is empty)
};

bundle_limits bundle_limits_of(const config& c);

class user_files {
 public:
  user_files(file_store& fs, bundle_limits l, std::size_t user_max_bytes) : fs_(fs), limits_(l), user_max_(user_max_bytes) {}

  // `user` empty: the global scope.
  std::vector<listed> skills(const std::string& user);
  std::vector<listed> agents(const std::string& user);
  std::optional<skill> get_skill(const std::string& user, const std::string& name);
  std::optional<agent> get_agent(const std::string& user, const std::string& name);
  // A refusal (413) when the scope would then hold more than the per-user limit; nothing stored then.
  std::optional<refusal> put_skill(const std::string& user, const skill& s);
  std::optional<refusal> put_agent(const std::string& user, const agent& a);
  bool remove_skill(const std::string& user, const std::string& name);
  bool remove_agent(const std::string& user, const std::string& name);
  std::optional<std::string> mcp(const std::string& user);
  void put_mcp(const std::string& user, const std::string& json_text);
  bool remove_mcp(const std::string& user);

  // `only_skills` / `only_agents`: nullopt = all; names that exist in neither scope are refused by the caller.
  run_set set_for(const std::string& user, const std::optional<std::vector<std::string>>& only_skills,
                  const std::optional<std::vector<std::string>>& only_agents);
  file_store& store() { return fs_; }

 private:
  std::string skill_key(const std::string& user, const std::string& name) const;
  std::string agent_key(const std::string& user, const std::string& name) const;
  std::optional<skill> load_skill(const std::string& key, const std::string& name);
  std::optional<agent> load_agent(const std::string& key, const std::string& name);
  skill parse_skill(const std::string& key, const std::string& name, const std::string& raw, const std::string& hash);
  agent parse_agent(const std::string& key, const std::string& name, const std::string& raw);
  template <class T, class Parse>
  std::vector<std::pair<listed, T>> scan(const char* kind, std::string_view ext, const std::string& user, Parse parse);
  std::vector<std::pair<listed, skill>> scan_skills(const std::string& user);
  std::vector<std::pair<listed, agent>> scan_agents(const std::string& user);
  std::size_t scope_bytes(const std::string& user, const std::string& except_key);

  file_store& fs_;
  bundle_limits limits_;
  std::size_t user_max_;
  std::mutex m_;
  std::map<std::string, skill> skill_cache_;  // parsed skills by their stored archive's hash
};

}  // namespace berth::storage
