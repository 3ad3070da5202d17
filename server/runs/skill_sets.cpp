#include "server/runs/skill_sets.hpp"

#include <set>
#include <stdexcept>
#include <tuple>

#include "common/ids.hpp"
#include "common/log.hpp"
#include "server/docker/tar.hpp"

namespace berth::runs {
namespace {
std::optional<std::vector<std::string>> names(const nlohmann::json& options, const char* key) {
  if (!options.is_object() || !options.contains(key) || !options[key].is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& n : options[key])
    if (n.is_string()) out.push_back(n.get<std::string>());
  return out;
}
}  // namespace

std::string set_archive(const storage::run_set& s) {
  std::vector<docker::tar_entry> entries;
  if (!s.skills.empty()) entries.push_back({"skills", {}, 0555, true});
  for (const auto& [name, sk] : s.skills) {
    std::set<std::string> dirs = {"skills/" + name};
    for (const auto& [path, content] : sk.files)
      for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
        dirs.insert("skills/" + name + "/" + path.substr(0, slash));
    for (const auto& d : dirs) entries.push_back({d, {}, 0555, true});
    for (const auto& [path, content] : sk.files)
      entries.push_back({"skills/" + name + "/" + path, content, content.starts_with("#!") ? 0555u : 0444u, false});
  }
  if (!s.agents.empty()) entries.push_back({"agents", {}, 0555, true});
  for (const auto& [name, ag] : s.agents) entries.push_back({"agents/" + name + ".md", ag.text, 0444, false});
  if (!s.mcp.empty()) entries.push_back({"mcp.json", s.mcp, 0444, false});
  return docker::tar_files(entries, 0);
}

std::string skill_sets::volume_for(const std::string& user, const nlohmann::json& options) {
  const auto only_skills = names(options, "skills"), only_agents = names(options, "agents");
  auto set = files_.set_for(user, only_skills, only_agents);
  auto require = [&](const std::optional<std::vector<std::string>>& listed, const auto& have, const char* what) {
    if (!listed) return;
    for (const auto& n : *listed)
      if (!have.count(n))
        throw std::invalid_argument(std::string("options.") + what + " names " + n + ", which neither " + user + " nor the global scope has");
  };
  require(only_skills, set.skills, "skills");
  require(only_agents, set.agents, "agents");
  if (set.sha256.empty()) return {};
  const std::string volume = "berth-set-" + instance_ + "-" + set.sha256.substr(0, 24);
  {
    std::lock_guard lock(m_);
    const auto now = now_ms();
    auto last = last_used_.find(volume);
    const bool recent = last != last_used_.end() && now - last->second <= keep_ms_ / 2;
    last_used_[volume] = now;  // before the sweep can look again: it keeps this volume now
    if (written_.count(volume) && recent) return volume;
  }
  // Written again after a restart (this process did not see it filled): the same content, so harmless.
  docker_.ensure_volume(volume, {{"berth.instance", instance_}, {"berth.kind", "skillset"}});
  const std::string id = docker_.create_container(
      "berth-set-" + new_run_id().substr(18),
      {{"Image", cfg_.worker_image},
       {"Labels", {{"berth.instance", instance_}, {"berth.helper", "skillset"}}},
       {"HostConfig", {{"NetworkMode", "none"}, {"Mounts", nlohmann::json::array({{{"Type", "volume"}, {"Source", volume}, {"Target", "/set"}}})}}}});
  try {
    docker_.put_archive(id, "/set", set_archive(set));
  } catch (...) {
    docker_.remove(id);
    throw;
  }
  docker_.remove(id);
  std::lock_guard lock(m_);
  written_.insert(volume);
  log::info("skill set written", {{"volume", volume}, {"skills", std::to_string(set.skills.size())}, {"agents", std::to_string(set.agents.size())},
                                  {"mcp", set.mcp.empty() ? "no" : "yes"}});
  return volume;
}

std::vector<std::string> idle_set_volumes(const std::vector<docker::volume_usage>& volumes, const std::string& instance,
                                          const std::map<std::string, std::int64_t>& last_used_ms, std::int64_t unknown_since_ms,
                                          std::int64_t now_ms, std::int64_t keep_ms) {
  std::vector<std::string> out;
  for (const auto& v : volumes) {
    auto inst = v.labels.find("berth.instance"), kind = v.labels.find("berth.kind");
    if (inst == v.labels.end() || inst->second != instance || kind == v.labels.end() || kind->second != "skillset") continue;
    if (v.ref_count != 0) continue;
    auto last = last_used_ms.find(v.name);
    if (now_ms - (last == last_used_ms.end() ? unknown_since_ms : last->second) > keep_ms) out.push_back(v.name);
  }
  return out;
}

std::vector<std::string> skill_sets::sweep(const std::vector<docker::volume_usage>& volumes, std::int64_t now) {
  std::vector<std::string> removed;
  std::lock_guard lock(m_);  // volume_for marks a volume used under it: none is removed while handed out
  for (const auto& name : idle_set_volumes(volumes, instance_, last_used_, started_ms_, now, keep_ms_)) {
    try {
      docker_.remove_volume(name);
    } catch (const docker::docker_error& e) {  // in use after all (a container made since the listing)
      log::debug("skill set volume kept", {{"volume", name}, {"error", e.what()}});
      continue;
    }
    written_.erase(name);
    last_used_.erase(name);
    removed.push_back(name);
    log::info("removed an unused skill set volume", {{"volume", name}});
  }
  return removed;
}

}  // namespace berth::runs
