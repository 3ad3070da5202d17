// What a worker is handed for a run, and the per-user resources it mounts. Pure: config + run in, task out.
// Engine defaults come from the config and a request's options override them within the validated bounds;
// credentials are attached only for the engine that needs them.
#pragma once
#include <map>
#include <string>
#include <vector>
#include <string_view>

#include "common/config.hpp"
#include "common/task.hpp"
#include "server/docker/container_spec.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

// `gateway_token`: the run's token (server/gateway/run_tokens), the only key the worker ever holds.
// `user_tools`: the user's tool policy (`allowed_tools`, `disallowed_tools`, `permission_mode`; null for
// none), which narrows the operator's as the request then narrows the user's.
task build_task(const config& c, const store::run_record& r, const std::string& gateway_token,
                const nlohmann::json& user_tools = nullptr);
// The named volume holding berthd's gateway socket, mounted read-only in every worker.
std::string gateway_volume(const config& c, std::string_view instance);
// Each node's gateway socket in that volume: gateway-<node>.sock. A worker's relay tries its own node's first
// and then the others, so a run adopted by another instance on the same engine reaches its new owner.
std::string gateway_socket_name(std::string_view node);
// The tool policy a run gets: the request's when it is narrower than the operator's, else the operator's.
std::string narrowed_permission_mode(const std::string& operator_mode, const nlohmann::json& requested);
std::vector<std::string> narrowed_tools(const std::vector<std::string>& operator_tools, const nlohmann::json& requested);
// A stable UUID for (user, session): the engine's conversation id, so the same session resumes the same
// conversation and two users can never share one.
std::string session_uuid(std::string_view user, std::string_view session);
// Named per instance, so two deployments on one engine never share a user's files.
std::string workspace_volume(std::string_view instance, std::string_view user);
std::string instructions_volume(std::string_view instance, std::string_view user);
// The labels a workspace volume is made with (the workspace guard finds them by these).
std::map<std::string, std::string> workspace_labels(std::string_view instance, std::string_view user);
// The hardened worker container for `user` (labels berth.instance and berth.user; the caller adds
// berth.run or berth.spare).
docker::container_spec worker_container(const config& c, const std::string& instance, const std::string& user,
                                        bool instructions, const std::string& set_volume = {});
// Whether runs of `engine` can start with this config; else the message saying what to set.
std::string missing_credentials(const config& c, std::string_view engine);
// The credential values handed to workers; redacted from every line a worker prints.
std::vector<std::string> engine_secrets(const config& c);

}  // namespace berth::runs
