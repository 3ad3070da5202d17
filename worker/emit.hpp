// The worker's side of the protocol: one JSON object per line on stdout, each written with a single
// write(2) so it reaches berthd the moment it is produced (no stdio buffering anywhere).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace berth::worker {

void emit(const nlohmann::json& event);
void emit_error(const std::string& kind, const std::string& message);
void diag(const std::string& line);  // stderr, one line

}  // namespace berth::worker
