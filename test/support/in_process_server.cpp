#include "in_process_server.hpp"

#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "berthd_process.hpp"
#include "common/strings.hpp"
#include "server/chat/outbox.hpp"
#include "server/docker/docker_client.hpp"
#include "server/http/app.hpp"
#include "server/http/listener.hpp"
#include "server/runs/docker_executor.hpp"
#include "server/runs/event_bus.hpp"
#include "server/runs/health_monitor.hpp"
#include "server/runs/instructions.hpp"
#include "server/runs/journal.hpp"
#include "server/runs/run_manager.hpp"
#include "server/store/store.hpp"
#include "server/storage/local_store.hpp"

namespace berth::test {

struct in_process_server::parts {
  explicit parts(config c)
      : cfg(std::move(c)),
        db(":memory:"),
        docker(cfg.docker_socket),
        journal(db, bus),
        outbox(cfg, db, bus),
        tokens("in-process-secret"),
        exec(cfg, docker, journal, "inproc", tokens),
        manager(cfg, journal, exec, "inproc-node"),
        health(docker, db, dir.path, [] {}),
        file_store(dir.path + "/files"),
        instructions(cfg, docker, db, file_store, "inproc"),
        spend(db),
        files(file_store, storage::bundle_limits_of(cfg), 1 << 20),
        a(http::make_app(cfg, db, docker, bus, manager, exec, instructions, outbox, spend, files, "inproc", health.state())),
        conns(static_cast<std::size_t>(cfg.max_connections), static_cast<std::size_t>(cfg.max_connections_per_client)),
        front(a, ioc, pool, conns) {}
  temp_dir dir;
  config cfg;
  store::store db;
  docker::docker_client docker;
  runs::event_bus bus;
  runs::journal journal;
  chat::outbox outbox;
  runs::token_registry tokens;
  runs::docker_executor exec;
  runs::run_manager manager;
  runs::health_monitor health;
  storage::local_store file_store;
  runs::instructions_service instructions;
  runs::spend_ledger spend;
  storage::user_files files;
  http::app a;
  http::connection_limits conns;  // before the io_context: suspended sessions give their slots back at its end
  boost::asio::io_context ioc{1};
  boost::asio::thread_pool pool{2};
  http::listener front;
  int port = 0;
  std::thread io;
};

in_process_server::in_process_server(const std::function<void(config&)>& tune) {
  config c;
  c.api_keys = {test_key};
  c.docker_socket = "/nonexistent/berth-test.sock";
  if (tune) tune(c);
  p_ = std::make_unique<parts>(std::move(c));
  p_->port = p_->front.bind("127.0.0.1", 0).port();
  p_->front.start();
  p_->io = std::thread([this] { p_->ioc.run(); });
}

in_process_server::~in_process_server() {
  p_->a.stopping = true;
  p_->front.stop();
  p_->ioc.stop();
  p_->io.join();
  p_->pool.join();
  p_->exec.detach_all();
}

int in_process_server::port() const { return p_->port; }

}  // namespace berth::test
