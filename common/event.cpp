#include "common/event.hpp"

#include <array>

#include <nlohmann/json.hpp>

namespace berth {
namespace {
using json = nlohmann::json;

bool has(const json& j, const char* k, json::value_t t) {
  auto it = j.find(k);
  if (it == j.end()) return false;
  if (t == json::value_t::number_integer) return it->is_number_integer();
  return it->type() == t;
}

}  // namespace

std::string check_worker_event(const json& j) {
  if (!j.is_object()) return "not a JSON object";
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) return "missing string field \"type\"";
  const std::string& type = t->get_ref<const std::string&>();
  using vt = json::value_t;
  if (type == "started") return has(j, "engine", vt::string) ? "" : "started needs string \"engine\"";
  if (type == "text") return has(j, "text", vt::string) ? "" : "text needs string \"text\"";
  if (type == "tool_use")
    return has(j, "id", vt::string) && has(j, "name", vt::string) && j.contains("input")
               ? "" : "tool_use needs \"id\", \"name\", \"input\"";
  if (type == "tool_result")
    return has(j, "id", vt::string) && j.contains("output") && has(j, "is_error", vt::boolean)
               ? "" : "tool_result needs \"id\", \"output\", \"is_error\"";
  if (type == "result")
    return has(j, "text", vt::string) && has(j, "is_error", vt::boolean) ? "" : "result needs \"text\", \"is_error\"";
  if (type == "error") {
    if (!has(j, "message", vt::string) || !has(j, "kind", vt::string)) return "error needs \"message\", \"kind\"";
    const auto& k = j["kind"].get_ref<const std::string&>();
    return (k == "auth" || k == "api" || k == "engine" || k == "input") ? "" : "error kind must be auth|api|engine|input";
  }
  return "unknown event type \"" + type + "\"";
}

std::string event_data(std::string_view run, const json& fields) {
  json out = json::object();
  out["run"] = run;
  if (fields.is_object())
    for (auto it = fields.begin(); it != fields.end(); ++it)
      if (it.key() != "type" && it.key() != "run") out[it.key()] = it.value();
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_terminal_status(std::string_view s) {
  for (auto t : terminal_statuses) if (s == t) return true;
  return false;
}

bool is_valid_status(std::string_view s) {
  if (is_terminal_status(s)) return true;
  for (auto a : active_statuses) if (s == a) return true;
  return false;
}

}  // namespace berth
