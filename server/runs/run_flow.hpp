// One run, start to finish, on the thread docker_executor gives it: create the hardened container (or take
// a warm spare), attach before start, hand over the task, pump output into events while enforcing the run
// and idle timeouts and cancel, classify the exit, store `done`, remove the container. After a restart the
// same steps follow the container's logs instead (resume), skipping bytes whose events are stored already.
// Engine outages are waited out; a shutdown detaches and leaves the worker running.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "server/docker/container_spec.hpp"
#include "server/docker/docker_client.hpp"
#include "server/runs/docker_executor.hpp"
#include "server/runs/exit_classifier.hpp"
#include "server/runs/journal.hpp"
#include "server/runs/netns_pool.hpp"
#include "server/runs/output_pump.hpp"
#include "server/runs/run_steps.hpp"
#include "server/runs/run_tokens.hpp"
#include "server/runs/spare_pool.hpp"
#include "server/runs/volume_registry.hpp"

namespace berth::runs {

// A run on the local engine; the steps of a run are its methods (the shared ones run_steps').
class run_flow : public run_steps {
 public:
  run_flow(const config& c, docker::docker_client& d, journal& j, const std::string& instance,
           docker_executor::active_run& a, store::run_record rec, spare_pool& spares, netns_pool& netns, volume_registry& volumes,
           std::function<void()> release, token_registry& tokens, skill_sets* sets = nullptr,
           instructions_service* instructions = nullptr);


 private:
  docker::unix_stream begin_fresh() override;
  docker::unix_stream resume() override;
  void finalize(output_pump& p) override;
  void remove_worker() override;  // the container, if made; its namespace holder released
  const char* engine_name() const override { return "docker"; }
  void stop_worker() override;
  docker::container_spec spec() const;
  std::optional<docker::unix_stream> take_spare();
  std::optional<docker::container_state> exit_state();
  // After a stop request: the container's end within stop_grace_s + a margin, killing and finally removing
  // it by force when the engine does not stop it. Never an unbounded wait.
  std::optional<docker::container_state> stopped_state();

  docker::docker_client& docker_;
  const std::string& instance_;
  std::string cid_;
  spare_pool& spares_;
  netns_pool& netns_;
  std::string netns_holder_;  // the namespace made ahead that this run's worker joined ("" its own)
  volume_registry& volumes_;
  skill_sets* sets_;        // null: no skills, agents or MCP config are mounted
  std::string set_volume_;  // this run's (decided when it starts fresh)
  instructions_service* instructions_;  // null: no instructions are mounted
  bool has_instructions_ = false;       // this run mounts them (decided when it starts fresh)
  std::optional<docker::unix_stream> exit_waiter_;
};

}  // namespace berth::runs
