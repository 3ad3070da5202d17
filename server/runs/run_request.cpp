#include "server/runs/run_request.hpp"

#include <algorithm>

#include "common/json_bounded.hpp"

namespace berth::runs {
namespace {
using json = nlohmann::json;

bool all_of_set(std::string_view s, std::size_t max, std::string_view extra) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

[[noreturn]] void bad(const std::string& code, const std::string& msg) { throw request_error(refusal::invalid, code, msg); }

std::string get_string(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) bad("missing_field", std::string("field \"") + key + "\" is required");
    return {};
  }
  if (!it->is_string()) bad("invalid_field", std::string("field \"") + key + "\" must be a string");
  return it->get<std::string>();
}

int get_int(const json& o, const char* key, int lo, int hi) {
  const auto& v = o[key];
  if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
    bad("invalid_field", std::string("options.") + key + " must be an integer in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "]");
  return v.get<int>();
}

// Options berthd knows; each engine reads its own. Unknown keys are refused like unknown fields.
void check_options(run_request& r, const request_limits& limits) {
  for (auto it = r.options.begin(); it != r.options.end(); ++it) {
    const std::string& k = it.key();
    if (k == "delay_ms") get_int(r.options, "delay_ms", 0, max_delay_ms);
    else if (k == "timeout_s") r.timeout_s = get_int(r.options, "timeout_s", 1, limits.max_timeout_s);
    else if (k == "idle_timeout_s") r.idle_timeout_s = get_int(r.options, "idle_timeout_s", 1, limits.max_idle_timeout_s);
    else if (k == "max_turns") get_int(r.options, "max_turns", 1, 1000);
    else if (k == "max_budget_usd") {
      if (!it->is_number() || !(it->get<double>() > 0) || it->get<double>() > max_run_budget_usd)
        bad("invalid_field", "options.max_budget_usd must be a number above 0 and at most " + std::to_string(static_cast<int>(max_run_budget_usd)));
    }
    else if (k == "count") get_int(r.options, "count", 1, max_burst_count);
    else if (k == "permission_mode") {
      static constexpr std::string_view modes[] = {"default", "acceptEdits", "bypassPermissions", "plan", "dontAsk"};
      if (!it->is_string() || std::find(std::begin(modes), std::end(modes), it->get<std::string>()) == std::end(modes))
        bad("invalid_field", "options.permission_mode must be one of default, acceptEdits, bypassPermissions, plan, dontAsk");
    } else if (k == "scenario") {
      if (!it->is_string() || !all_of_set(it->get<std::string>(), 64, "_-:"))
        bad("invalid_field", "options." + k + " must be a short word");
    } else if (k == "skills" || k == "agents") {
      if (!it->is_array() || it->size() > 64) bad("invalid_field", "options." + k + " must be an array of at most 64 names");
      for (const auto& n : *it)
        if (!n.is_string() || n.get<std::string>().empty() || !all_of_set(n.get<std::string>(), 64, "-"))
          bad("invalid_field", "options." + k + " must hold names like code-review");
    } else if (k == "allowed_tools" || k == "disallowed_tools") {
      if (!it->is_array() || it->size() > 64) bad("invalid_field", "options." + k + " must be an array of tool names");
      for (const auto& t : *it)
        if (!t.is_string() || !all_of_set(t.get<std::string>(), 128, "_-:()*. "))
          bad("invalid_field", "options." + k + " must hold tool names like Bash or Bash(git *)");
    } else {
      bad("unknown_field", "unknown option \"" + k + "\"");
    }
  }
}
}  // namespace

// "." and ".." would name paths and volumes (berth-ws-..) that mean something else.
bool valid_user(std::string_view u) { return all_of_set(u, 64, "_.-") && u != "." && u != ".."; }
bool valid_session(std::string_view s) { return all_of_set(s, 128, "_.:/#-"); }

run_request parse_run_request(std::string_view body, const request_limits& limits) {
  if (body.size() > max_body_bytes) throw request_error(refusal::too_large, "body_too_large", "request body exceeds 1 MiB");
  if (json_too_deep(body)) bad("invalid_json", "request body nests deeper than " + std::to_string(max_json_depth) + " levels");
  json j = parse_json(body);
  if (j.is_discarded()) bad("invalid_json", "request body is not valid JSON");
  if (!j.is_object()) bad("invalid_json", "request body must be a JSON object");
  static constexpr std::string_view known[] = {"user", "message", "engine", "session", "model", "options", "callback_url"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(std::begin(known), std::end(known), it.key()) == std::end(known))
      bad("unknown_field", "unknown field \"" + it.key() + "\"");

  run_request r;
  r.user = get_string(j, "user", true);
  if (!valid_user(r.user)) bad("invalid_field", "field \"user\" must match [A-Za-z0-9_.-]{1,64}");
  r.message = get_string(j, "message", true);
  if (r.message.empty()) bad("invalid_field", "field \"message\" must not be empty");
  if (r.message.size() > max_message_bytes) throw request_error(refusal::too_large, "message_too_large", "field \"message\" exceeds 256 KiB");
  r.engine = get_string(j, "engine", false);
  if (r.engine.empty()) r.engine = limits.default_engine;
  if (std::find(limits.engines.begin(), limits.engines.end(), r.engine) == limits.engines.end())
    bad("invalid_field", "engine \"" + r.engine + "\" is not enabled on this server");
  r.session = get_string(j, "session", false);
  if (!r.session.empty() && !valid_session(r.session))
    bad("invalid_field", "field \"session\" must match [A-Za-z0-9_.:/#-]{1,128}");
  r.model = get_string(j, "model", false);
  if (!r.model.empty() && !all_of_set(r.model, 100, "_.:-[]")) bad("invalid_field", "field \"model\" is not a model name");
  if (auto it = j.find("options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) bad("invalid_field", "field \"options\" must be an object");
    r.options = *it;
  }
  check_options(r, limits);
  r.callback_url = get_string(j, "callback_url", false);  // checked against the allow-list by the caller
  if (r.callback_url.size() > max_callback_url_bytes) bad("invalid_field", "field \"callback_url\" exceeds 2048 bytes");
  return r;
}

}  // namespace berth::runs
