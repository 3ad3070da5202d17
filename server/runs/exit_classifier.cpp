#include "server/runs/exit_classifier.hpp"

namespace berth::runs {

outcome classify_exit(const exit_facts& f) {
  switch (f.requested) {
    case stop_request::cancel: return {"cancelled", "cancelled by request"};
    case stop_request::run_timeout:
      return {"timed_out", "run exceeded its time limit of " + std::to_string(f.timeout_s) + " s"};
    case stop_request::idle_timeout:
      return {"timed_out", "no output for " + std::to_string(f.timeout_s) + " s"};
    case stop_request::none: break;
  }
  if (f.oom_killed) return {"oom", "worker exceeded its memory limit and was killed"};
  if (!f.error_kind.empty()) return {"failed", f.error_kind + ": " + f.error_message};
  if (f.exit_code != 0) return {"failed", "worker exited with code " + std::to_string(f.exit_code)};
  if (f.saw_result && f.result_is_error) return {"failed", "engine: the agent reported an error"};
  if (!f.saw_result) return {"failed", "engine: worker exited without a result"};
  return {"succeeded", ""};
}

}  // namespace berth::runs
