#include "server/runs/output_translator.hpp"

#include "common/event.hpp"
#include "common/json_bounded.hpp"

namespace berth::runs {
namespace {
void mark_cut(nlohmann::json& f, const line& l) {
  if (l.dropped > 0) f["truncated_bytes"] = l.dropped;
}
}  // namespace

draft log_draft(std::string_view stream, std::string text) {
  return {"log", {{"stream", stream}, {"line", std::move(text)}}};
}

draft translate_stdout(const line& l) {
  if (l.dropped == 0) {
    auto j = parse_json(l.text);
    if (!j.is_discarded()) {
      std::string problem = check_worker_event(j);
      if (problem.empty()) {
        std::string type = j["type"].get<std::string>();
        j.erase("type");
        j.erase("run");
        return {std::move(type), std::move(j)};
      }
      draft d = log_draft("stdout", l.text);
      d.fields["problem"] = problem;
      return d;
    }
    if (json_too_deep(l.text)) {
      draft d = log_draft("stdout", l.text);
      d.fields["problem"] = "JSON nested deeper than " + std::to_string(max_json_depth) + " levels";
      return d;
    }
  }
  draft d = log_draft("stdout", l.text);
  mark_cut(d.fields, l);
  return d;
}

draft translate_stderr(const line& l) {
  draft d = log_draft("stderr", l.text);
  mark_cut(d.fields, l);
  return d;
}

}  // namespace berth::runs
