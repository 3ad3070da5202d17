// Reading a finished run back from berthd in the shapes the tests compare.
#pragma once
#include <string>
#include <vector>

#include "api_client.hpp"

namespace berth::test {

inline std::vector<sse_event> stored_events(api_client& api, const std::string& id) {
  return api.stream("GET", "/api/v1/runs/" + id + "/events").events;
}

// The concatenated text deltas: what the run "said".
inline std::string spelled(const std::vector<sse_event>& events) {
  std::string s;
  for (const auto& e : events)
    if (e.type == "text") s += e.json()["text"].get<std::string>();
  return s;
}

inline int count_type(const std::vector<sse_event>& events, const std::string& type) {
  int n = 0;
  for (const auto& e : events) n += e.type == type;
  return n;
}

inline bool ids_contiguous(const std::vector<sse_event>& events) {
  for (std::size_t i = 0; i < events.size(); ++i)
    if (events[i].id != static_cast<long long>(i + 1)) return false;
  return true;
}

// What the script engine's `ticks` scenario says over `n` ticks.
inline std::string ticks_said(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += "tick " + std::to_string(i) + " ";
  return s;
}

inline std::string words(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += (i > 1 ? " w" : "w") + std::to_string(i);
  return s;
}

}  // namespace berth::test
