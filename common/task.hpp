// The task berthd hands a worker: one JSON line on the worker's stdin (never argv, never env, so it shows in
// no process list and no `docker inspect`). Credentials are not part of it; they come as environment.
#pragma once
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
};

std::string serialize_task(const task& t);  // one line, '\n'-terminated
task parse_task(std::string_view line);     // throws std::runtime_error with a clear message

}  // namespace berth
