// berthd: configuration → wiring → serve until SIGTERM/SIGINT. Nothing else lives here.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include <httplib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/config.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "server/docker/docker_client.hpp"
#include "server/http/app.hpp"
#include "server/http/listener.hpp"
#include "server/runs/cluster_feed.hpp"
#include "server/runs/docker_executor.hpp"
#include "server/runs/health_monitor.hpp"
#include "server/runs/journal.hpp"
#include "server/runs/node_lease.hpp"
#include "server/runs/reconciler.hpp"
#include "server/runs/run_manager.hpp"
#include "server/runs/run_tokens.hpp"
#include "server/runs/skill_sets.hpp"
#include "server/runs/kube_flow.hpp"
#include "server/runs/swarm_flow.hpp"
#include "server/storage/db_store.hpp"
#include "server/storage/local_store.hpp"
#include "server/storage/s3_store.hpp"
#include "server/runs/task_builder.hpp"
#include "server/gateway/gateway.hpp"
#include "server/runs/workspace_guard.hpp"
#include "server/schedule/scheduler.hpp"
#include "server/store/backup.hpp"
#include "server/store/copy_history.hpp"
#include "server/store/data_dir_lock.hpp"
#include "server/store/store.hpp"

namespace {
constexpr int blocking_threads = 4;

// `berthd --health-check`: the container HEALTHCHECK without curl in the image. GET /health on this
// berthd's own port (from BERTH_LISTEN); exit 0 when it answers 200.
int health_check() {
  std::string listen = "0.0.0.0:3000";
  if (const char* v = std::getenv("BERTH_LISTEN"); v && *v) listen = v;
  auto colon = listen.rfind(':');
  auto port = berth::parse_int(listen.substr(colon + 1));
  if (colon == std::string::npos || !port) {
    std::cerr << "berthd --health-check: BERTH_LISTEN is not host:port\n";
    return 2;
  }
  std::string host = listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  httplib::Client c(host, static_cast<int>(*port));
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(3, 0);
  auto r = c.Get("/health");
  if (!r || r->status != 200) {
    std::cerr << "berthd --health-check: /health did not answer 200\n";
    return 1;
  }
  return 0;
}

// Every connection is a descriptor: take the hard limit the system grants, so the connection caps
// (BERTH_MAX_CONNECTIONS) rather than EMFILE decide when clients are turned away.
void raise_descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}
}  // namespace

// `berthd --migrate-from-sqlite PATH`: the embedded history at PATH into BERTH_DATABASE_URL's PostgreSQL. The
// SQLite file's directory is locked like a data dir, so no berthd writes it meanwhile.
static int migrate_from_sqlite(const std::string& path) {
  using namespace berth;
  try {
    const char* url = std::getenv("BERTH_DATABASE_URL");
    if (!url || !*url) throw std::runtime_error("set BERTH_DATABASE_URL to the PostgreSQL database to copy into");
    store::data_dir_lock lock(std::filesystem::path(path).parent_path().string());
    store::store target(url);
    if (target.kind() != store::sql::dialect::postgres) throw std::runtime_error("BERTH_DATABASE_URL is not a PostgreSQL URL");
    for (const auto& [table, n] : store::copy_history(path, target))
      std::cout << "berthd: " << table << ": " << n << " rows read from " << path << "\n";
    std::cout << "berthd: history copied into " << redact_url_password(url) << " (rows already there were kept)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "berthd --migrate-from-sqlite: " << e.what() << "\n";
    return 1;
  }
}

// This process among the instances on one database: <hostname>-<8 hex>, new at every start.
static std::string default_node_id() {
  std::array<char, 256> host{};
  std::string h = ::gethostname(host.data(), host.size() - 1) == 0 ? host.data() : "berthd";
  std::string clean;
  for (char ch : h)
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-') clean += ch;
  if (clean.empty()) clean = "berthd";
  return clean.substr(0, 22) + "-" + berth::new_run_id().substr(18, 8);
}

// Where berthd creates its gateway socket: BERTH_GATEWAY_DIR (berthd in a container, the volume mounted
// there), else the named volume's mountpoint on this host (berthd beside its engine).
// Without BERTH_GATEWAY_DIR the volume's mountpoint must come from the engine: a start while it is down waits.
static std::string gateway_dir(const berth::config& c, berth::docker::docker_client& docker, const std::string& instance) {
  using namespace berth;
  const auto volume = runs::gateway_volume(c, instance);
  for (;;) {
    try {
      auto mountpoint = docker.ensure_volume(volume, {{"berth.instance", instance}, {"berth.kind", "gateway"}});
      if (!c.gateway_dir.empty()) return c.gateway_dir;
      if (mountpoint.empty()) throw std::runtime_error("the engine did not say where volume " + volume + " lives; set BERTH_GATEWAY_DIR");
      return mountpoint;
    } catch (const docker::docker_error& e) {
      if (!c.gateway_dir.empty()) return c.gateway_dir;  // workers' mounts create the volume when they start
      log::warn("waiting for the docker engine to make the gateway volume (BERTH_GATEWAY_DIR avoids the wait)",
                {{"volume", volume}, {"error", e.what()}});
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
  }
}

int main(int argc, char** argv) {
  using namespace berth;
  if (argc > 1 && std::string_view(argv[1]) == "--health-check") return health_check();
  if (argc > 1 && std::string_view(argv[1]) == "--version") {
    std::cout << "berthd " BERTH_VERSION "\n";
    return 0;
  }
  if (argc == 3 && std::string_view(argv[1]) == "--backup") {
    const char* dir = std::getenv("BERTH_DATA_DIR");
    auto db = std::filesystem::path(dir && *dir ? dir : "./data") / "berth.db";
    try {
      store::backup_database(db.string(), argv[2]);
    } catch (const std::exception& e) {
      std::cerr << "berthd --backup: " << e.what() << "\n";
      return 1;
    }
    std::cout << "berthd: " << db.string() << " backed up to " << argv[2] << "\n";
    return 0;
  }
  if (argc == 3 && std::string_view(argv[1]) == "--migrate-from-sqlite") return migrate_from_sqlite(argv[2]);
  if (argc > 1) {
    std::cerr << "usage: berthd [--health-check | --version | --backup DEST | --migrate-from-sqlite PATH]; configuration "
                 "comes from BERTH_* variables\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an error code, never a dead daemon
  raise_descriptor_limit();
  config cfg;
  try {
    cfg = parse_config(process_env());
  } catch (const config_error& e) {
    std::cerr << "berthd: " << e.what() << "\n";
    return 2;
  }
  log::level lvl{};
  log::format fmt{};
  log::parse_level(cfg.log_level, lvl);
  log::parse_format(cfg.log_format, fmt);
  log::configure(lvl, fmt);

  try {
    std::filesystem::create_directories(cfg.data_dir);
    store::data_dir_lock lock(cfg.data_dir);
    if (cfg.node_id.empty()) cfg.node_id = default_node_id();
    store::store db(cfg.database_url.empty() ? (std::filesystem::path(cfg.data_dir) / "berth.db").string() : cfg.database_url);
    db.set_node(cfg.node_id);
    // Instances sharing a database share the instance name (labels, volumes): the first one to start picks it.
    std::string instance = cfg.instance;
    if (instance.empty()) instance = db.meta_or_set("instance", new_run_id().substr(10, 12));
    {
      log::info("berthd starting", {{"instance", instance}, {"node", cfg.node_id}, {"schema", std::to_string(db.schema_version())}});
      for (const auto& [k, v] : describe_config(cfg)) log::info("config", {{"key", k}, {"value", v}});
    }

    docker::docker_client docker(cfg.docker_socket);
    runs::event_bus bus;
    runs::journal journal(db, bus);
    chat::outbox outbox(cfg, db, bus);  // declared before the executor, so it outlives the threads that finish runs
    journal.on_finished([&outbox](const std::string&) { outbox.notify(); });
    // One secret for every instance on the database: a run adopted elsewhere keeps its worker's token.
    runs::token_registry tokens(db.meta_or_set("gateway_secret", runs::new_gateway_secret()));
    runs::spend_ledger spend(db);  // before everything that checks or counts spend: it outlives them
    spend.start();                 // budgets and today's spend, before anything may be submitted
    // Users' skills, agents and MCP settings; before the executor, whose runs mount them (it outlives none).
    std::unique_ptr<storage::file_store> file_store;
    if (cfg.storage == "postgres") file_store = std::make_unique<storage::db_store>(db);
    else if (cfg.storage == "s3") file_store = std::make_unique<storage::s3_store>(cfg);
    else file_store = std::make_unique<storage::local_store>(std::filesystem::path(cfg.data_dir) / "files");
    file_store->check();  // wrong credentials or a missing bucket stop berthd here, with the reason
    storage::user_files files(*file_store, storage::bundle_limits_of(cfg), static_cast<std::size_t>(cfg.user_files_max_bytes));
    runs::skill_sets sets(cfg, docker, files, instance);
    runs::instructions_service instructions(cfg, docker, db, *file_store, instance);
    log::info("storage", {{"kind", file_store->describe()}});
    runs::docker_executor exec(cfg, docker, journal, instance, tokens);
    exec.set_skill_sets(&sets);
    exec.set_instructions(&instructions);
    std::unique_ptr<kube::kube_client> kube_api;
    if (cfg.executor == "kubernetes") {
      kube_api = std::make_unique<kube::kube_client>(kube::target_from(cfg));
      exec.set_flow_factory([&](runs::docker_executor::active_run& a, const store::run_record& rec, std::function<void()> release)
                                -> std::unique_ptr<runs::run_steps> {
        return std::make_unique<runs::kube_flow>(cfg, *kube_api, journal, instance, a, rec, std::move(release), tokens);
      });
      log::info("runs go to Kubernetes", {{"api", kube_api->target().server}, {"namespace", kube_api->space()}});
    }
    if (cfg.executor == "swarm") {
      auto setup = runs::prepare_swarm(cfg, docker, instance);
      exec.set_flow_factory([&, setup](runs::docker_executor::active_run& a, const store::run_record& rec, std::function<void()> release)
                                -> std::unique_ptr<runs::run_steps> {
        return std::make_unique<runs::swarm_flow>(cfg, docker, setup, journal, instance, a, rec, std::move(release), tokens);
      });
    }
    runs::run_manager manager(cfg, journal, exec, cfg.node_id);
    runs::node_lease lease(cfg, db, manager, exec);
    runs::cluster_feed feed(db, bus, manager, exec);
    schedule::scheduler schedules(cfg, db, manager);
    runs::health_monitor health(docker, db, cfg.data_dir, [&manager] { manager.retry(); });
    if (kube_api) health.set_engine_probe([&kube_api] { return kube_api->version(); });
    health.check_now();
    manager.set_engine_check([&health] { return health.state().docker_ok.load(); });
    runs::reconciler reconcile(cfg, docker, db, exec, manager, instance);
    reconcile.set_kube(kube_api.get());
    runs::workspace_guard workspaces(cfg, docker, db, exec, instance);
    workspaces.set_skill_sets(&sets);

    manager.set_budget_check([&spend](const std::string& user) { return spend.check(user, now_ms()); });
    http::app a = http::make_app(cfg, db, docker, bus, manager, exec, instructions, outbox, spend, files, instance, health.state());
    // Before the io_context: sessions still suspended when it is destroyed give their slots back to it.
    http::connection_limits conns(static_cast<std::size_t>(cfg.max_connections),
                                  static_cast<std::size_t>(cfg.max_connections_per_client));
    boost::asio::io_context ioc(cfg.io_threads);
    boost::asio::thread_pool pool(blocking_threads);
    http::listener front(a, ioc, pool, conns);
    auto ep = front.bind(cfg.listen_host, cfg.listen_port);
    gateway::gateway model_gateway(
        ioc, cfg, tokens,
        [&exec, &spend](const std::string& run, const gateway::note& n) {
          runs::run_note rn;
          rn.used = n.used;
          rn.refused = n.refused;
          if (!n.egress.is_null()) rn.events.push_back({"egress", n.egress});
          // Counted at once for the next model call's check; the run's writer stores it.
          if (!n.used.empty() && !n.user.empty()) spend.add(n.user, {total_tokens(n.used), n.used.cost_micro_usd}, now_ms());
          exec.note(run, std::move(rn));
        },
        [&spend](const std::string& user) -> std::optional<std::string> {
          if (auto over = spend.check(user, now_ms())) return over->reason;
          return std::nullopt;
        });
    const auto gateway_socket =
        (std::filesystem::path(gateway_dir(cfg, docker, instance)) / runs::gateway_socket_name(cfg.node_id)).string();
    model_gateway.bind(gateway_socket);
    if (!cfg.gateway_listen_host.empty()) {
      try {
        model_gateway.listen_tcp(cfg.gateway_listen_host, cfg.gateway_listen_port);
      } catch (const std::exception& e) {
        throw std::runtime_error("BERTH_GATEWAY_LISTEN: cannot listen on " + cfg.gateway_listen_host + ":" +
                                 std::to_string(cfg.gateway_listen_port) + " (an IP address and a free port): " + e.what());
      }
      log::info("gateway listening on TCP", {{"address", cfg.gateway_listen_host + ":" + std::to_string(model_gateway.tcp_port())}});
    }
    lease.start();  // the first heartbeat before anything is claimed: others must see this node alive
    feed.start();
    manager.start();
    reconcile.start();
    health.start();
    if (cfg.executor == "docker") workspaces.start();  // workspaces are volumes on this engine
    outbox.start();
    schedules.start();
    front.start();
    model_gateway.start();
    log::info("gateway listening", {{"socket", gateway_socket}, {"volume", runs::gateway_volume(cfg, instance)}});
    log::info("listening", {{"address", ep.address().to_string() + ":" + std::to_string(ep.port())}});
    std::optional<http::listener> metrics_front;
    if (!cfg.metrics_listen.empty()) {
      auto colon = cfg.metrics_listen.rfind(':');
      metrics_front.emplace(a, ioc, pool, conns, true);
      auto mep = metrics_front->bind(cfg.metrics_listen.substr(0, colon),
                                     static_cast<unsigned short>(std::stoi(cfg.metrics_listen.substr(colon + 1))));
      metrics_front->start();
      log::info("metrics listening", {{"address", mep.address().to_string() + ":" + std::to_string(mep.port())}});
    }

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    std::thread stopper;
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log::info("shutting down; workers keep running and are re-attached on the next start",
                {{"signal", std::to_string(sig)}});
      a.stopping = true;
      manager.stop();
      front.stop();
      model_gateway.stop();
      if (metrics_front) metrics_front->stop();
      stopper = std::thread([&] {
        schedules.stop();
        reconcile.stop();
        workspaces.stop();
        feed.stop();
        exec.detach_all();
        lease.stop();  // after the runs are let go: others may adopt them at once
        health.stop();
        outbox.stop();
        ioc.stop();
      });
    });

    std::vector<std::thread> io;
    for (int i = 1; i < cfg.io_threads; ++i) io.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : io) t.join();
    if (stopper.joinable()) stopper.join();
    pool.join();
    log::info("berthd stopped");
  } catch (const std::exception& e) {
    log::error("berthd failed", {{"error", e.what()}});
    return 1;
  }
  return 0;
}
