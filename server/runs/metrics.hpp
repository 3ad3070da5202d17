// Counters and histograms berthd exports at /metrics (Prometheus text format 0.0.4). Updated with relaxed
// atomics on the hot paths; gauges (queue depth, running workers, subscribers, spares) are sampled at scrape
// time. render_prometheus is pure.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace berth::runs {

class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  struct snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot snap() const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> buckets_;  // per bound, then +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

struct metrics {
  metrics();
  void run_finished(const std::string& status, double duration_s);
  std::map<std::string, std::uint64_t> runs_by_status() const;

  histogram run_duration_s;
  histogram container_start_s;
  std::atomic<std::uint64_t> events_stored{0};
  std::atomic<std::uint64_t> runs_submitted{0};
  std::atomic<std::uint64_t> spares_taken{0};
  std::atomic<std::uint64_t> auth_failures{0};  // wrong API keys and dashboard logins
  std::atomic<std::uint64_t> auth_refused{0};   // requests refused with 429 for too many failures
  // The credential gateway: tokens metered from model answers, requests by outcome, CONNECT attempts.
  std::atomic<std::uint64_t> tokens_input{0};
  std::atomic<std::uint64_t> tokens_output{0};
  std::atomic<std::uint64_t> tokens_cache_read{0};
  std::atomic<std::uint64_t> tokens_cache_creation{0};
  std::atomic<std::uint64_t> gateway_forwarded{0};  // model requests passed upstream
  std::atomic<std::uint64_t> gateway_refused{0};    // answered by the gateway itself: 4xx, never upstream
  std::atomic<std::uint64_t> gateway_failed{0};     // upstream unreachable or broken mid-answer (502/504)
  std::atomic<std::uint64_t> egress_allowed{0};
  std::atomic<std::uint64_t> egress_refused{0};

 private:
  mutable std::mutex m_;
  std::map<std::string, std::uint64_t> by_status_;
};

struct gauges {
  std::uint64_t queue_depth = 0;
  std::uint64_t running_workers = 0;
  std::uint64_t sse_subscribers = 0;
  std::uint64_t spares = 0;
  std::uint64_t docker_api_errors = 0;
  bool docker_up = false;
  double uptime_s = 0;
  std::map<std::string, std::uint64_t> deliveries;  // outbox rows by state (waiting, pending, delivered, failed)
  struct user_spend {
    std::int64_t tokens = 0;
    double usd = 0;
  };
  std::map<std::string, user_spend> spend_today;  // users who spent anything today (UTC)
};

std::string render_prometheus(const metrics& m, const gauges& g);

metrics& global_metrics();

}  // namespace berth::runs
