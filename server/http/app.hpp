// Everything a request handler may reach, wired once in main.cpp. Handlers reach the store and the run
// manager only from the blocking pool; `health` is kept fresh by a background monitor so /health answers from
// memory on the I/O thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <string>

#include "common/config.hpp"
#include "common/strings.hpp"
#include "server/docker/docker_client.hpp"
#include "server/chat/outbox.hpp"
#include "server/http/auth.hpp"
#include "server/http/dashboard_auth.hpp"
#include "server/http/failure_limiter.hpp"
#include "server/runs/event_bus.hpp"
#include "server/runs/executor.hpp"
#include "server/runs/health_monitor.hpp"
#include "server/runs/instructions.hpp"
#include "server/runs/run_manager.hpp"
#include "server/runs/spend_ledger.hpp"
#include "server/storage/user_files.hpp"
#include "server/store/store.hpp"

namespace berth::http {

// The dashboard's logins and its shared overview snapshot (built at most once per wave of changes, however
// many pages are open).
struct dashboard_state {
  explicit dashboard_state(store::store* db) : sessions(db) {}
  session_table sessions;
  std::mutex overview_m;          // guards the three below; never held across the build itself
  std::string overview;           // JSON
  std::int64_t overview_ms = 0;   // when it was built
  bool overview_building = false;  // one build at a time; others take the last snapshot meanwhile
  std::condition_variable overview_built;
};

struct app {
  const config& cfg;
  store::store& db;
  docker::docker_client& docker;
  runs::event_bus& bus;
  runs::run_manager& manager;
  runs::executor& exec;
  runs::instructions_service& instructions;
  chat::outbox& outbox;
  runs::spend_ledger& spend;
  storage::user_files& files;
  std::string instance;
  key_matcher keys;
  runs::health_state& health;
  std::int64_t started_ms = 0;
  std::atomic<bool> stopping{false};
  dashboard_state dash;
  failure_limiter auth_failures;  // wrong API keys and dashboard logins, per client and in all
};

// The app over the services wired in main (and the in-process test server); the key table and the failure
// limits come from the configuration here and nowhere else.
inline app make_app(const config& cfg, store::store& db, docker::docker_client& docker, runs::event_bus& bus,
                    runs::run_manager& manager, runs::executor& exec, runs::instructions_service& instructions,
                    chat::outbox& outbox, runs::spend_ledger& spend, storage::user_files& files, std::string instance,
                    runs::health_state& health) {
  return app{.cfg = cfg,
             .db = db,
             .docker = docker,
             .bus = bus,
             .manager = manager,
             .exec = exec,
             .instructions = instructions,
             .outbox = outbox,
             .spend = spend,
             .files = files,
             .instance = std::move(instance),
             .keys = key_matcher(cfg.api_keys, cfg.key_users),
             .health = health,
             .started_ms = now_ms(),
             .dash = dashboard_state(&db),
             .auth_failures = failure_limiter({.per_client = cfg.auth_failures_per_client,
                                               .global = cfg.auth_failures_global})};
}

}  // namespace berth::http
