#include "server/runs/metrics.hpp"

#include <cmath>
#include <cstdio>

#include "common/event.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

namespace {
std::string num(double v) {
  if (std::isinf(v)) return "+Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void gauge(std::string& out, const char* name, const char* help, double v) {
  header(out, name, "gauge", help);
  out += std::string(name) + " " + num(v) + "\n";
}

void render_histogram(std::string& out, const char* name, const char* help, const histogram::snapshot& s) {
  header(out, name, "histogram", help);
  for (std::size_t i = 0; i <= s.bounds.size(); ++i) {
    std::string le = i < s.bounds.size() ? num(s.bounds[i]) : "+Inf";
    out += std::string(name) + "_bucket{le=\"" + le + "\"} " + std::to_string(s.cumulative[i]) + "\n";
  }
  out += std::string(name) + "_sum " + num(s.sum) + "\n";
  out += std::string(name) + "_count " + std::to_string(s.count) + "\n";
}
}  // namespace

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {}

void histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(std::max(0.0, v) * 1e6), std::memory_order_relaxed);
}

histogram::snapshot histogram::snap() const {
  snapshot s;
  s.bounds = bounds_;
  std::uint64_t acc = 0;
  for (const auto& b : buckets_) s.cumulative.push_back(acc += b.load(std::memory_order_relaxed));
  s.count = acc;
  s.sum = static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  return s;
}

metrics::metrics()
    : run_duration_s({0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}),
      container_start_s({0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5}) {}

void metrics::run_finished(const std::string& status, double duration_s) {
  {
    std::lock_guard lock(m_);
    ++by_status_[status];
  }
  if (duration_s >= 0) run_duration_s.observe(duration_s);
}

std::map<std::string, std::uint64_t> metrics::runs_by_status() const {
  std::lock_guard lock(m_);
  return by_status_;
}

std::string render_prometheus(const metrics& m, const gauges& g) {
  std::string out;
  header(out, "berth_runs_submitted_total", "counter", "Runs accepted since start.");
  out += "berth_runs_submitted_total " + std::to_string(m.runs_submitted.load()) + "\n";
  header(out, "berth_runs_finished_total", "counter", "Runs that reached a terminal status since start, by status.");
  for (auto s : terminal_statuses) {
    auto all = m.runs_by_status();
    auto it = all.find(std::string(s));
    out += "berth_runs_finished_total{status=\"" + std::string(s) + "\"} " +
           std::to_string(it == all.end() ? 0 : it->second) + "\n";
  }
  render_histogram(out, "berth_run_duration_seconds", "Wall time of finished runs, from start to exit.", m.run_duration_s.snap());
  render_histogram(out, "berth_container_start_seconds", "Time to have a worker running: create+attach+start, or taking a warm spare.", m.container_start_s.snap());
  header(out, "berth_events_stored_total", "counter", "Run events written to the store since start.");
  out += "berth_events_stored_total " + std::to_string(m.events_stored.load()) + "\n";
  header(out, "berth_spares_taken_total", "counter", "Runs started on a warm spare container.");
  out += "berth_spares_taken_total " + std::to_string(m.spares_taken.load()) + "\n";
  header(out, "berth_auth_failures_total", "counter", "Requests and dashboard logins with a missing or wrong key.");
  out += "berth_auth_failures_total " + std::to_string(m.auth_failures.load()) + "\n";
  header(out, "berth_auth_refused_total", "counter", "Requests refused (429) after too many failed keys or logins.");
  out += "berth_auth_refused_total " + std::to_string(m.auth_refused.load()) + "\n";
  header(out, "berth_tokens_total", "counter", "Model tokens metered by the gateway from the API's answers, by kind.");
  out += "berth_tokens_total{kind=\"input\"} " + std::to_string(m.tokens_input.load()) + "\n";
  out += "berth_tokens_total{kind=\"output\"} " + std::to_string(m.tokens_output.load()) + "\n";
  out += "berth_tokens_total{kind=\"cache_read\"} " + std::to_string(m.tokens_cache_read.load()) + "\n";
  out += "berth_tokens_total{kind=\"cache_creation\"} " + std::to_string(m.tokens_cache_creation.load()) + "\n";
  header(out, "berth_gateway_requests_total", "counter", "Requests workers made to the credential gateway, by outcome.");
  out += "berth_gateway_requests_total{outcome=\"forwarded\"} " + std::to_string(m.gateway_forwarded.load()) + "\n";
  out += "berth_gateway_requests_total{outcome=\"refused\"} " + std::to_string(m.gateway_refused.load()) + "\n";
  out += "berth_gateway_requests_total{outcome=\"failed\"} " + std::to_string(m.gateway_failed.load()) + "\n";
  header(out, "berth_egress_total", "counter", "CONNECT attempts through the gateway, by outcome.");
  out += "berth_egress_total{outcome=\"allowed\"} " + std::to_string(m.egress_allowed.load()) + "\n";
  out += "berth_egress_total{outcome=\"refused\"} " + std::to_string(m.egress_refused.load()) + "\n";
  header(out, "berth_docker_api_errors_total", "counter", "Failed Docker Engine API calls (unreachable or error status).");
  out += "berth_docker_api_errors_total " + std::to_string(g.docker_api_errors) + "\n";
  gauge(out, "berth_queue_depth", "Runs waiting in the queue.", static_cast<double>(g.queue_depth));
  gauge(out, "berth_running_workers", "Runs with a worker container.", static_cast<double>(g.running_workers));
  gauge(out, "berth_sse_subscribers", "Open event streams.", static_cast<double>(g.sse_subscribers));
  gauge(out, "berth_spare_pool_size", "Warm spare containers waiting for a run.", static_cast<double>(g.spares));
  gauge(out, "berth_docker_up", "1 when the Docker engine answers.", g.docker_up ? 1 : 0);
  gauge(out, "berth_uptime_seconds", "Seconds since berthd started.", g.uptime_s);
  header(out, "berth_deliveries", "gauge", "Replies (Slack, Telegram, callbacks) in the outbox, by state.");
  for (auto s : store::delivery_states) {
    auto it = g.deliveries.find(std::string(s));
    out += "berth_deliveries{state=\"" + std::string(s) + "\"} " +
           std::to_string(it == g.deliveries.end() ? 0 : it->second) + "\n";
  }
  // User names are [A-Za-z0-9_.-]: nothing to escape in a label value.
  header(out, "berth_user_tokens_today", "gauge", "Tokens each user's runs used today (UTC), as the gateway metered them.");
  for (const auto& [user, s] : g.spend_today) out += "berth_user_tokens_today{user=\"" + user + "\"} " + std::to_string(s.tokens) + "\n";
  header(out, "berth_user_spend_usd_today", "gauge", "What each user's runs cost today (UTC) at BERTH_PRICES, in USD.");
  for (const auto& [user, s] : g.spend_today) out += "berth_user_spend_usd_today{user=\"" + user + "\"} " + num(s.usd) + "\n";
  return out;
}

metrics& global_metrics() {
  static metrics m;
  return m;
}

}  // namespace berth::runs
