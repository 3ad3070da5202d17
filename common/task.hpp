// The task berthd hands a worker: one JSON line on the worker's stdin (never argv, never env, so it shows in
// no process list and no `docker inspect`). No real credential is ever part of it (see the gateway).
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace berth {

struct task {
  std::string run;
  std::string user;
  std::string message;
  std::string engine;
  std::string session;  // empty: a fresh conversation
  std::string model;    // empty: the engine's default
  nlohmann::json options = nlohmann::json::object();
  // The engine's own conversation id for `session` (a UUID derived by berthd from user + session); the
  // worker resumes it when its transcript exists in the workspace, else starts it. Empty: no session.
  std::string session_id;
  // Environment for the engine process only: the run's gateway token as its API key, ANTHROPIC_BASE_URL and
  // the proxy variables pointing at the relay. Never a real credential: those stay in berthd's gateway.
  std::map<std::string, std::string> env;
  // The relay berth-worker runs for the engine: 127.0.0.1:<port> inside the container, each connection
  // passed to berthd's gateway socket, opened with the line `BERTH <token>`. Port 0: no relay.
  struct relay_spec {
    std::string socket;
    int port = 0;
    std::string token;
  } relay;
  // A warm spare's first line: start the engine for this (likely) task and wait, without a message, for the
  // real task on the next line. Its relay token is the spare's own key, which the gateway knows nothing of: the
  // engine can reach no model until the real task brings its run's token (see worker/claude_engine.cpp).
  bool prepare = false;
};

std::string serialize_task(const task& t);  // one line, '\n'-terminated
task parse_task(std::string_view line);     // throws std::runtime_error with a clear message

}  // namespace berth
