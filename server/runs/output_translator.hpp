// Worker output line → event draft. stdout lines are worker-protocol JSON; anything else on stdout (not
// JSON, not a known event, a berthd-only type) is kept as a `log` event, never dropped and never fatal.
// stderr lines are `log` events. Pure.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "server/runs/line_splitter.hpp"

namespace berth::runs {

struct draft {
  std::string type;
  nlohmann::json fields;  // without "type" and "run"
};

draft translate_stdout(const line& l);
draft translate_stderr(const line& l);
draft log_draft(std::string_view stream, std::string text);

}  // namespace berth::runs
