// berthd's configuration: BERTH_* environment variables, each with a default (README and
// deploy/.env.example list them). parse_config is pure: it reads through a lookup function, validates
// everything, and reports every problem at once. describe_config never shows a secret.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/prices.hpp"

namespace berth {

struct config {
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 3000;
  std::string data_dir = "./data";
  std::vector<std::string> api_keys;  // secret
  // Keys limited to some users (BERTH_API_KEYS entry `key=alice|team-*`): key → user patterns, a trailing
  // `*` matching any suffix. Keys absent here act for every user.
  std::map<std::string, std::vector<std::string>> key_users;
  std::string worker_image = "berth-worker:latest";
  // `none` (the default): a worker has no route out; it reaches the model API (and BERTH_EGRESS_ALLOW) only
  // through berthd's gateway, over a unix socket in a named volume. bridge/host/<name> are weaker choices.
  std::string worker_network = "none";
  // BERTH_EXECUTOR: where workers run. docker: containers on this engine (BERTH_DOCKER_HOST). swarm: one
  // ReplicatedJob service per run, BERTH_DOCKER_HOST being a manager. kubernetes: one Job per run.
  std::string executor = "docker";
  std::string swarm_network = "berth-workers";  // the internal attachable overlay workers and the gateway share
  std::vector<std::string> swarm_constraints;   // BERTH_SWARM_CONSTRAINTS, ';'-separated placement constraints
  // Kubernetes (BERTH_EXECUTOR=kubernetes; server/kube): the API server and credentials, from the pod's service
  // account unless set here or in a kubeconfig (JSON).
  std::string kubeconfig;       // BERTH_KUBECONFIG
  std::string kube_api;         // BERTH_KUBE_API=https://host:port
  std::string kube_namespace;   // BERTH_KUBE_NAMESPACE
  std::string kube_token_file;  // BERTH_KUBE_TOKEN_FILE
  std::string kube_ca_file;     // BERTH_KUBE_CA_FILE
  int kube_timeout_s = 30;      // BERTH_KUBE_TIMEOUT_S: one API call, connection included
  std::string default_engine = "claude";
  std::vector<std::string> engines = {"echo", "claude"};
  std::string docker_socket = "/var/run/docker.sock";  // from BERTH_DOCKER_HOST=unix://…
  std::string instance;                                // empty: generated once and kept in the store
  // PostgreSQL (postgres:// or postgresql:// URL, a secret: it may hold a password): several instances share
  // queue, caps, history, logins and outbox. Empty: SQLite under data_dir, one instance.
  std::string database_url;
  std::string node_id;  // this process among instances; empty: <hostname>-<random>
  int lease_s = 15;     // a node silent this long is dead: its runs are adopted by another
  int io_threads = 1;
  std::string metrics_listen;       // empty: /metrics on the main listener, behind the API key
  int dashboard_session_s = 43200;  // a dashboard login lasts 12 h
  int max_connections = 4096;             // open client connections, all listeners together
  int max_connections_per_client = 1024;  // from one address (behind a proxy: the proxy's)
  std::vector<std::string> trusted_proxies;  // whose X-Forwarded-For names the client (addresses or CIDR)
  int auth_failures_per_client = 20;         // wrong keys / logins per client per minute, then 429
  int auth_failures_global = 200;            // the same over all clients together

  int max_concurrent = 4;
  int max_per_user = 2;
  int queue_max = 100;
  int run_timeout_s = 1800;
  int idle_timeout_s = 600;
  int stop_grace_s = 5;
  int orphan_grace_s = 60;
  int reconcile_s = 30;

  bool spares = false;     // BERTH_SPARES=on|off: a warm container per user after their run
  int spares_max = 4;
  int spare_idle_s = 300;
  // BERTH_SPARE_WARM_CLI=on|off: with the claude engine as default, a spare also starts the CLI for the user's
  // most recent session and keeps it waiting for the message (worker/claude_engine.cpp, run_prepared).
  bool spare_warm_cli = true;
  // BERTH_NETNS_SPARES: network namespaces made ahead for workers on BERTH_WORKER_NETWORK=none
  // (server/runs/netns_pool.hpp); 0 turns it off.
  int netns_spares = 2;

  std::int64_t worker_memory = 1LL << 30;
  double worker_cpus = 1.0;
  int worker_pids = 256;
  std::int64_t workspace_max_bytes = 0;  // a workspace volume over this stops its user's runs (0: no limit)
  int workspace_idle_s = 0;              // workspaces of users idle this long are removed (0: never)
  int workspace_check_s = 10;
  std::int64_t max_output_bytes = 16LL << 20;
  std::int64_t max_line_bytes = 1LL << 20;

  // Engine `claude`: defaults a request's options may narrow (max_turns) or name (model, tools, mode).
  std::string claude_permission_mode = "bypassPermissions";  // the container, not the CLI, is the sandbox
  std::vector<std::string> claude_allowed_tools;
  int claude_max_turns = 50;
  int claude_max_retries = 4;
  std::string claude_model;
  // Credentials for the engine (secrets): read from ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN, and the
  // endpoint from ANTHROPIC_BASE_URL. Handed to workers on stdin only.
  std::string anthropic_api_key;
  std::string claude_oauth_token;
  std::string anthropic_base_url;  // the gateway's upstream; empty: https://api.anthropic.com

  // The credential gateway (server/gateway): a unix socket in a named volume every worker mounts.
  std::string gateway_volume;  // empty: berth-gw-<instance>
  std::string gateway_dir;     // where berthd finds that volume; empty: its mountpoint on this engine's host
  std::int64_t gateway_max_body_bytes = 32LL << 20;  // a model request larger than this: 413
  // BERTH_GATEWAY_LISTEN=ip:port: the gateway on TCP too, for workers on other nodes (a cluster's network);
  // empty: the unix socket only.
  std::string gateway_listen_host;
  std::uint16_t gateway_listen_port = 0;
  // BERTH_GATEWAY_ADVERTISE=host:port: what workers dial instead of the unix socket (a cluster service name,
  // or an address on the workers' network); empty: the socket in the gateway volume.
  std::string gateway_advertise;
  // Users' skills, agents and MCP settings (server/storage): where they are kept, and their limits.
  std::string storage = "local";  // local | postgres | s3 (BERTH_STORAGE=s3://bucket/prefix)
  // S3 (BERTH_STORAGE=s3://…): the bucket, a key prefix, and how to reach and sign for it (SigV4).
  std::string s3_bucket;
  std::string s3_prefix;    // no leading or trailing '/'; may be empty
  std::string s3_endpoint;  // scheme://host[:port]; default https://s3.<region>.amazonaws.com
  std::string s3_region = "us-east-1";
  bool s3_path_style = true;  // https://host/bucket/key; false: https://bucket.host/key
  std::string s3_access_key_id;
  std::string s3_secret_access_key;  // never logged
  int s3_timeout_s = 30;             // one S3 request, connection included
  std::int64_t skill_max_file_bytes = 256 << 10;
  std::int64_t skill_max_bytes = 1 << 20;
  std::int64_t agent_max_bytes = 64 << 10;
  std::int64_t user_files_max_bytes = 8 << 20;
  int skill_set_keep_s = 3600;  // a set volume unused this long (no container, no run asking) is removed
  std::vector<std::string> admin_keys;  // may manage the global skills and agents
  std::string prices_spec{default_prices};  // BERTH_PRICES: what metered usage costs (budgets in USD)
  price_table prices;
  int gateway_relay_port = 8119;                     // the worker's loopback port the CLI talks to
  std::vector<std::string> egress_allow;             // host:port, *.domain:port reachable through CONNECT

  // Chat integrations and callbacks (issue 5). Tokens and secrets never reach logs or the store.
  std::string slack_signing_secret;  // enables POST /hooks/slack
  std::string slack_bot_token;
  std::string slack_api_base = "https://slack.com/api";
  std::string telegram_bot_token;
  std::string telegram_secret_token;  // enables POST /hooks/telegram
  std::string telegram_api_base = "https://api.telegram.org";
  std::vector<std::string> callback_allow;  // scheme://host[:port|:*] entries a callback_url may name
  int delivery_deadline_s = 86400;          // a reply is retried for this long, then marked failed
  int delivery_backoff_ms = 1000;           // first retry delay; doubles per attempt (with jitter), ≤ 5 min
  int chat_update_ms = 1500;                // progressive chat.update / editMessageText at most this often

  // Schedules (issue 17) and GitHub.
  int schedule_min_interval_s = 60;     // the shortest period a schedule or heartbeat may have
  std::string github_webhook_secret;    // enables POST /hooks/github (X-Hub-Signature-256)
  std::string github_token;             // posts and edits the reply comments (secret)
  std::string github_api_base = "https://api.github.com";
  std::string github_git_base = "https://github.com";  // where a GitHub run's agent reads its repository from
  std::string github_mention = "@berth";  // a comment must mention this to start a run

  std::string log_level = "info";
  std::string log_format = "text";
};

struct config_error : std::runtime_error {
  std::vector<std::string> problems;
  explicit config_error(std::vector<std::string> p);
};

using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

config parse_config(const env_lookup& env);  // throws config_error
env_lookup process_env();
std::vector<std::pair<std::string, std::string>> describe_config(const config& c);

}  // namespace berth
