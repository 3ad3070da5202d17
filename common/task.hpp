// The task berthd hands a worker: one JSON line on the worker's stdin (never argv, never env, so it shows in
// no process list and no `docker inspect`). Credentials are not part of it; they come as environment.
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
  // Credentials and endpoints for the engine process only (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN,
  // ANTHROPIC_BASE_URL). Carried here, on stdin, so they show in no `docker inspect`, argv, log or store.
  std::map<std::string, std::string> env;
};

std::string serialize_task(const task& t);  // one line, '\n'-terminated
task parse_task(std::string_view line);     // throws std::runtime_error with a clear message

}  // namespace berth
