#include "server/gateway/usage_meter.hpp"

#include <nlohmann/json.hpp>

#include "common/json_bounded.hpp"

namespace berth::gateway {
namespace {
constexpr std::size_t max_line = 1 << 20;       // usage lives in short event lines; longer ones are text
constexpr std::size_t max_json_body = 8 << 20;  // a non-streamed answer beyond this is not metered

std::int64_t field(const nlohmann::json& u, const char* k, std::int64_t fallback) {
  auto it = u.find(k);
  return it != u.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0 ? it->get<std::int64_t>() : fallback;
}
}  // namespace

void usage_meter::take(const nlohmann::json& u) {
  if (!u.is_object()) return;
  seen_.input_tokens = field(u, "input_tokens", seen_.input_tokens);
  seen_.output_tokens = field(u, "output_tokens", seen_.output_tokens);
  seen_.cache_read_input_tokens = field(u, "cache_read_input_tokens", seen_.cache_read_input_tokens);
  seen_.cache_creation_input_tokens = field(u, "cache_creation_input_tokens", seen_.cache_creation_input_tokens);
}

void usage_meter::line(std::string_view l) {
  if (!l.starts_with("data:")) return;
  // Only two event kinds carry usage; everything else (text deltas) is skipped without a parse.
  bool start = l.find("\"message_start\"") != std::string_view::npos;
  bool delta = !start && l.find("\"message_delta\"") != std::string_view::npos;
  if (!start && !delta) return;
  auto j = parse_json(l.substr(5));
  if (!j.is_object()) return;
  if (start && j.contains("message") && j["message"].is_object()) {
    if (auto m = j["message"].find("model"); m != j["message"].end() && m->is_string()) model_ = m->get<std::string>();
    if (j["message"].contains("usage")) take(j["message"]["usage"]);
  }
  if (delta && j.contains("usage")) take(j["usage"]);
}

usage usage_meter::delta() {
  usage d;
  d.input_tokens = seen_.input_tokens - reported_.input_tokens;
  d.output_tokens = seen_.output_tokens - reported_.output_tokens;
  d.cache_read_input_tokens = seen_.cache_read_input_tokens - reported_.cache_read_input_tokens;
  d.cache_creation_input_tokens = seen_.cache_creation_input_tokens - reported_.cache_creation_input_tokens;
  reported_ = seen_;
  if (prices_) d.cost_micro_usd = cost_micro_usd(*prices_, model_, d);
  return d;
}

usage usage_meter::feed(std::string_view bytes) {
  if (!sse_) {
    if (buf_.size() + bytes.size() <= max_json_body) buf_.append(bytes);
    else skipping_ = true;
    return {};
  }
  for (char c : bytes) {
    if (c == '\n') {
      if (!skipping_) {
        if (!buf_.empty() && buf_.back() == '\r') buf_.pop_back();
        line(buf_);
      }
      buf_.clear();
      skipping_ = false;
    } else if (!skipping_) {
      buf_ += c;
      if (buf_.size() > max_line) {
        buf_.clear();
        skipping_ = true;
      }
    }
  }
  return delta();
}

usage usage_meter::finish() {
  if (sse_) {
    if (!skipping_ && !buf_.empty()) line(buf_);
  } else if (!skipping_) {
    auto j = parse_json(buf_);
    if (j.is_object() && j.contains("model") && j["model"].is_string()) model_ = j["model"].get<std::string>();
    if (j.is_object() && j.contains("usage")) take(j["usage"]);
  }
  buf_.clear();
  return delta();
}

}  // namespace berth::gateway
