#include "server/runs/exit_classifier.hpp"

#include <string.h>

namespace berth::runs {
namespace {
// 128+N is how a shell, tini and Docker report death by signal N: name it, and say who usually sends it.
std::string exit_reason(int code) {
  std::string r = "worker exited with code " + std::to_string(code);
  if (code <= 128 || code > 128 + 64) return r;
  int sig = code - 128;
  const char* name = sigabbrev_np(sig);
  r += std::string(" (SIG") + (name ? name : std::to_string(sig).c_str()) + ")";
  if (sig == 15) r += ": stopped from outside berthd, e.g. the docker engine shutting down";
  if (sig == 9) r += ": killed from outside berthd";
  return r;
}
}  // namespace

outcome classify_exit(const exit_facts& f) {
  switch (f.requested) {
    case stop_request::cancel: return {run_end::cancelled, "cancelled by request"};
    case stop_request::run_timeout:
      return {run_end::timed_out, "run exceeded its time limit of " + std::to_string(f.timeout_s) + " s"};
    case stop_request::idle_timeout:
      return {run_end::timed_out, "no output for " + std::to_string(f.timeout_s) + " s"};
    case stop_request::disk_limit:
      return {run_end::failed, "workspace exceeded its limit of " + std::to_string(f.limit_bytes) + " bytes (BERTH_WORKSPACE_MAX_BYTES)"};
    case stop_request::none: break;
  }
  if (f.oom_killed) return {run_end::oom, "worker exceeded its memory limit and was killed"};
  if (!f.error_kind.empty()) return {run_end::failed, f.error_kind + ": " + f.error_message};
  if (f.exit_code != 0) return {run_end::failed, exit_reason(f.exit_code)};
  if (f.saw_result && f.result_is_error) return {run_end::failed, "engine: the agent reported an error"};
  if (!f.saw_result) return {run_end::failed, "engine: worker exited without a result"};
  return {run_end::succeeded, ""};
}

}  // namespace berth::runs
