#include "server/runs/swarm_flow.hpp"


#include <chrono>
#include <utility>

#include "common/json_bounded.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/runs/reconciler.hpp"
#include "server/runs/task_builder.hpp"

namespace berth::runs {

namespace {
constexpr int task_poll_ms = 1000;
constexpr auto drain_limit = std::chrono::seconds(15);  // reading a finished task's logs once more
constexpr std::int64_t scratch_bytes = 256LL << 20;

std::string short_id(const std::string& id) { return id.substr(0, 12); }
}  // namespace

swarm_flow::swarm_flow(const config& c, docker::docker_client& manager, swarm_setup setup, journal& j,
                       const std::string& instance, docker_executor::active_run& a, store::run_record rec,
                       std::function<void()> release, token_registry& tokens)
    : run_steps(c, j, a, std::move(rec), std::move(release), tokens), manager_(manager), setup_(setup), instance_(instance) {
  poll_worker_ms_ = task_poll_ms;
}

std::map<std::string, std::string> swarm_flow::labels() const {
  return {{"berth.instance", instance_}, {"berth.run", rec_.id}, {"berth.user", rec_.user}, {"berth.node", cfg_.node_id}};
}

void swarm_flow::remove_worker() {
  // By name as well as by ID: a crash may have left them before their IDs were stored.
  const auto service = service_.empty() ? docker::swarm_service_name(rec_.id) : service_;
  try {
    manager_.remove_service(service);
  } catch (const docker::docker_error& e) {
    log::warn("could not remove the run's service; the reconciler will", {{"run", rec_.id}, {"error", e.what()}});
  }
  try {
    manager_.remove_secret(docker::swarm_secret_name(rec_.id));
  } catch (const docker::docker_error& e) {
    log::warn("could not remove the run's task secret; the reconciler will", {{"run", rec_.id}, {"error", e.what()}});
  }
}

docker::unix_stream swarm_flow::begin_fresh() {
  mark_starting();
  remove_worker();  // left by a crash before this run's service was stored: it never ran
  const auto secret_name = docker::swarm_secret_name(rec_.id);
  const auto secret = manager_.create_secret(docker::swarm_secret_body(secret_name, labels(), task_line()));
  docker::swarm_job_params p;
  p.name = docker::swarm_service_name(rec_.id);
  p.image = cfg_.worker_image;
  p.labels = labels();
  p.memory = cfg_.worker_memory;
  p.cpus = cfg_.worker_cpus;
  p.pids = cfg_.worker_pids;
  p.constraints = cfg_.swarm_constraints;
  p.network = cfg_.swarm_network;
  p.secret_id = secret;
  p.secret_name = secret_name;
  p.scratch_bytes = scratch_bytes;
  p.stop_grace_s = cfg_.stop_grace_s;
  p.job_mode = setup_.job_mode;
  service_ = manager_.create_service(docker::swarm_service_body(p));
  mark_running(service_);  // the run timeout counts from here: scheduling and pulling are the run's time too
  log::info("worker service created", {{"run", rec_.id}, {"service", short_id(service_)}});
  return manager_.service_logs(service_, true);
}

docker::unix_stream swarm_flow::resume() {
  auto found = with_engine([&] { return manager_.services("berth.run=" + rec_.id); });
  for (const auto& s : found)
    if (s.value("ID", "") == rec_.container_id || rec_.container_id.empty()) service_ = s.value("ID", "");
  if (service_.empty()) {
    if (rec_.status == "starting") return begin_fresh();  // its service was never made (or never stored)
    throw run_lost("the worker's swarm service vanished while berthd was not following it");
  }
  node_name_ = rec_.worker_node;
  if (rec_.status == "starting") mark_running(service_);
  log::info("following the worker service's logs after restart",
            {{"run", rec_.id}, {"service", short_id(service_)}, {"stdout_offset", std::to_string(rec_.stdout_offset)}});
  return with_engine([&] { return manager_.service_logs(service_, true); });
}

void swarm_flow::stop_worker() {
  try {
    manager_.remove_service(service_);
  } catch (const docker::docker_error& e) {
    stop_error_ = e.what();
    log::error("could not remove the worker's service", {{"run", rec_.id}, {"error", e.what()}});
  }
}

bool swarm_flow::worker_ended() {
  auto tasks = with_engine([&] { return manager_.service_tasks(service_); });
  if (stop_ != stop_request::none) {  // removed: followed until its task is gone or has ended
    return tasks.empty() || docker::read_swarm_task(tasks[0], false).ended;
  }
  if (tasks.empty()) {
    if (with_engine([&] { return manager_.services("berth.run=" + rec_.id); }).empty())
      throw run_lost("the worker's swarm service was removed behind berthd's back");
    return false;  // the orchestrator has not made the task yet
  }
  const auto& task = tasks[0];
  bool down = false;
  const auto node = string_at(task, "NodeID");
  if (!node.empty()) {
    auto n = with_engine([&] { return manager_.node(node); });
    down = string_at(n.value("Status", nlohmann::json::object()), "State") == "down";
    if (node != node_id_) {
      node_id_ = node;
      node_name_ = string_at(n.value("Description", nlohmann::json::object()), "Hostname");
      if (node_name_.empty()) node_name_ = node;
      store::run_update u;
      u.worker_node = node_name_;
      emit({}, u);
      log::info("worker task placed", {{"run", rec_.id}, {"node", node_name_}});
    }
  }
  end_ = docker::read_swarm_task(task, down);
  if (down && end_.lost) end_.reason = "the worker's node " + node_name_ + " went down while the run was in progress";
  return end_.ended;
}

void swarm_flow::drain(output_pump& p) {
  if (end_.lost || end_.rejected || stop_ != stop_request::none) return;  // nothing more can be read, or wanted
  try {
    auto s = with_engine([&] { return manager_.service_logs(service_, false); });
    p.restart_stream();
    if (!read_rest(s, p, drain_limit))
      log::warn("the finished task's logs did not end in time; its last lines may be missing", {{"run", rec_.id}});
  } catch (const docker::docker_error& e) {
    log::warn("could not read the finished task's logs again; its last lines may be missing", {{"run", rec_.id}, {"error", e.what()}});
  }
}

void swarm_flow::finalize(output_pump& p) {
  finish_with(p, {.ended = end_.ended, .exit_code = end_.exit_code, .lost = end_.lost, .not_started = end_.rejected, .reason = end_.reason});
}

void swarm_flow::after_output(docker::unix_stream& s, output_pump& p) {
  s.shutdown_both();
  // The followed logs ended without the task having ended (the manager restarted): its end is still asked for.
  if (stop_ == stop_request::none && !end_.ended && !await_worker_end(drain_limit)) {
    end_.ended = end_.lost = true;
    end_.reason = "the service's logs ended but its task reported no end within " + std::to_string(drain_limit.count()) + " s";
  }
  drain(p);
}

swarm_setup prepare_swarm(const config& c, docker::docker_client& manager, const std::string& instance) {
  swarm_setup setup;
  const auto api = string_at(manager.version(), "ApiVersion");
  setup.job_mode = docker::swarm_removes_job_tasks(api);
  if (!setup.job_mode)
    log::warn("this swarm manager (API " + api + ", before Docker 24) leaves a removed job service's tasks running: each run is a "
              "replicated service of one task that never restarts instead", {});
  auto info = manager.info();
  auto swarm = info.value("Swarm", nlohmann::json::object());
  if (string_at(swarm, "LocalNodeState") != "active" || !swarm.value("ControlAvailable", false))
    throw std::runtime_error("BERTH_EXECUTOR=swarm: the engine at BERTH_DOCKER_HOST is not a swarm manager (docker swarm init, "
                             "or point BERTH_DOCKER_HOST at a manager)");
  auto net = manager.network(c.swarm_network);
  if (net.is_null()) {
    manager.create_overlay(c.swarm_network, {{"berth.instance", instance}});
    log::info("made the workers' overlay network (internal, attachable)", {{"network", c.swarm_network}});
    return setup;
  }
  if (string_at(net, "Driver") != "overlay" || !net.value("Attachable", false))
    throw std::runtime_error("BERTH_SWARM_NETWORK \"" + c.swarm_network + "\" exists but is not an attachable overlay network");
  if (!net.value("Internal", false))
    log::warn("the workers' overlay network is not internal: workers can reach more than the gateway", {{"network", c.swarm_network}});
  return setup;
}

int reconcile_swarm(docker::docker_client& manager, store::store& db, const executor& exec, const std::string& instance) {
  const std::string label = "berth.instance=" + instance;
  int removed = 0;
  for (const auto& s : manager.services(label)) {
    const auto run = string_at(s.value("Spec", nlohmann::json::object()).value("Labels", nlohmann::json::object()), "berth.run");
    if (!worker_left_over(db, exec, run)) continue;
    manager.remove_service(s.value("ID", ""));
    ++removed;
    log::info("removed the swarm service of a finished or unknown run", {{"run", run}});
  }
  for (const auto& s : manager.secrets(label)) {
    const auto run = string_at(s.value("Spec", nlohmann::json::object()).value("Labels", nlohmann::json::object()), "berth.run");
    if (!worker_left_over(db, exec, run)) continue;
    manager.remove_secret(s.value("ID", ""));
    ++removed;
    log::info("removed the task secret of a finished or unknown run", {{"run", run}});
  }
  return removed;
}

}  // namespace berth::runs
