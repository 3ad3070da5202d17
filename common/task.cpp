#include "common/task.hpp"

#include <stdexcept>

#include "common/json_bounded.hpp"

namespace berth {

std::string serialize_task(const task& t) {
  nlohmann::json j = {{"run", t.run}, {"user", t.user}, {"message", t.message}, {"engine", t.engine},
                      {"session", t.session}, {"model", t.model}, {"options", t.options},
                      {"session_id", t.session_id}, {"env", t.env}};
  if (t.prepare) j["prepare"] = true;
  if (t.relay.port > 0) j["relay"] = {{"socket", t.relay.socket}, {"port", t.relay.port}, {"token", t.relay.token}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

task parse_task(std::string_view line) {
  auto j = parse_json(line);
  if (!j.is_object()) throw std::runtime_error("task is not a JSON object");
  auto str = [&](const char* k) -> std::string {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_string()) throw std::runtime_error(std::string("task field ") + k + " must be a string");
    return it->get<std::string>();
  };
  task t;
  t.run = str("run");
  t.user = str("user");
  t.message = str("message");
  t.engine = str("engine");
  t.session = str("session");
  t.model = str("model");
  t.session_id = str("session_id");
  if (auto it = j.find("env"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw std::runtime_error("task field env must be an object");
    for (auto e = it->begin(); e != it->end(); ++e) {
      if (!e->is_string()) throw std::runtime_error("task env values must be strings");
      t.env[e.key()] = e->get<std::string>();
    }
  }
  if (auto it = j.find("relay"); it != j.end() && !it->is_null()) {
    const auto& r = *it;
    if (!r.is_object() || !r.contains("socket") || !r["socket"].is_string() || !r.contains("port") ||
        !r["port"].is_number_integer() || r["port"].get<int>() < 1 || r["port"].get<int>() > 65535 ||
        !r.contains("token") || !r["token"].is_string())
      throw std::runtime_error("task field relay must be {socket, port 1-65535, token}");
    t.relay = {r["socket"].get<std::string>(), r["port"].get<int>(), r["token"].get<std::string>()};
  }
  if (auto it = j.find("prepare"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) throw std::runtime_error("task field prepare must be a boolean");
    t.prepare = it->get<bool>();
  }
  if (auto it = j.find("options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw std::runtime_error("task field options must be an object");
    t.options = *it;
  }
  return t;
}

}  // namespace berth
