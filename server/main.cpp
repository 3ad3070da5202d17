// berthd: configuration → wiring → serve until SIGTERM/SIGINT. Nothing else lives here.
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

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
#include "server/runs/docker_executor.hpp"
#include "server/runs/health_monitor.hpp"
#include "server/runs/journal.hpp"
#include "server/runs/reconciler.hpp"
#include "server/runs/run_manager.hpp"
#include "server/store/store.hpp"

namespace {
constexpr int blocking_threads = 4;
}

int main() {
  using namespace berth;
  std::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an error code, never a dead daemon
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
    store::store db((std::filesystem::path(cfg.data_dir) / "berth.db").string());
    std::string instance = cfg.instance;
    if (instance.empty()) instance = db.meta("instance");
    if (instance.empty()) {
      instance = new_run_id().substr(10, 12);
      db.set_meta("instance", instance);
    }
    {
      log::info("berthd starting", {{"instance", instance}, {"schema", std::to_string(db.schema_version())}});
      for (const auto& [k, v] : describe_config(cfg)) log::info("config", {{"key", k}, {"value", v}});
    }

    docker::docker_client docker(cfg.docker_socket);
    runs::event_bus bus;
    runs::journal journal(db, bus);
    runs::docker_executor exec(cfg, docker, journal, instance);
    runs::run_manager manager(cfg, journal, exec);
    runs::health_monitor health(docker, db, cfg.data_dir, [&manager] { manager.retry(); });
    health.check_now();
    manager.set_engine_check([&health] { return health.state().docker_ok.load(); });
    runs::reconciler reconcile(cfg, docker, db, exec, manager, instance);
    runs::instructions_service instructions(cfg, docker, db, instance);

    http::app a{cfg, db, docker, bus, manager, exec, instructions, instance, http::key_matcher(cfg.api_keys), health.state(), now_ms(), {}};
    boost::asio::io_context ioc(cfg.io_threads);
    boost::asio::thread_pool pool(blocking_threads);
    http::listener front(a, ioc, pool);
    auto ep = front.bind(cfg.listen_host, cfg.listen_port);
    manager.start();
    reconcile.start();
    health.start();
    front.start();
    log::info("listening", {{"address", ep.address().to_string() + ":" + std::to_string(ep.port())}});
    std::optional<http::listener> metrics_front;
    if (!cfg.metrics_listen.empty()) {
      auto colon = cfg.metrics_listen.rfind(':');
      metrics_front.emplace(a, ioc, pool, true);
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
      if (metrics_front) metrics_front->stop();
      stopper = std::thread([&] {
        reconcile.stop();
        exec.detach_all();
        health.stop();
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
