#include "common/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "common/log.hpp"
#include "common/strings.hpp"

namespace berth {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string join_problems(const std::vector<std::string>& p) {
  std::string out = "invalid configuration:";
  for (const auto& s : p) out += "\n  " + s;
  return out;
}

// Reads one variable at a time, collecting problems rather than stopping at the first.
struct reader {
  const env_lookup& env;
  std::vector<std::string> problems;

  std::optional<std::string> get(const std::string& name) {
    auto v = env(name);
    if (v && trim(*v).empty()) return std::nullopt;
    return v;
  }
  void integer(const std::string& name, int& out, int lo, int hi) {
    auto v = get(name);
    if (!v) return;
    auto n = parse_int(*v);
    if (!n || *n < lo || *n > hi)
      problems.push_back(name + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                         "], got \"" + *v + "\"");
    else
      out = static_cast<int>(*n);
  }
  void bytes(const std::string& name, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
    auto v = get(name);
    if (!v) return;
    auto n = parse_bytes(*v);
    if (!n || *n < lo || *n > hi)
      problems.push_back(name + " must be a size like 512m or 1g between " + std::to_string(lo) + " and " +
                         std::to_string(hi) + " bytes, got \"" + *v + "\"");
    else
      out = *n;
  }
  void string(const std::string& name, std::string& out) {
    if (auto v = get(name)) out = std::string(trim(*v));
  }
};

// BERTH_STORAGE=s3://bucket[/prefix] and the BERTH_S3_* settings (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
// are read when the BERTH_ names are unset, as every S3 tool does).
void parse_s3(reader& r, config& c) {
  std::string_view rest = std::string_view(c.storage).substr(5);
  const auto slash = rest.find('/');
  c.s3_bucket = std::string(rest.substr(0, slash));
  c.s3_prefix = slash == std::string_view::npos ? "" : std::string(rest.substr(slash + 1));
  while (!c.s3_prefix.empty() && c.s3_prefix.back() == '/') c.s3_prefix.pop_back();
  c.storage = "s3";
  auto lower_digit = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  bool bucket_ok = c.s3_bucket.size() >= 3 && c.s3_bucket.size() <= 63 && lower_digit(c.s3_bucket.front()) &&
                   lower_digit(c.s3_bucket.back());
  for (char ch : c.s3_bucket) bucket_ok = bucket_ok && (lower_digit(ch) || ch == '-' || ch == '.');
  if (!bucket_ok) r.problems.push_back("BERTH_STORAGE=s3://BUCKET/prefix: the bucket must be 3-63 of [a-z0-9.-], got \"" + c.s3_bucket + "\"");
  bool prefix_ok = c.s3_prefix.size() <= 256 && !c.s3_prefix.starts_with('/') && c.s3_prefix.find("//") == std::string::npos;
  for (char ch : c.s3_prefix) prefix_ok = prefix_ok && (std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("-_./", ch));
  if (!prefix_ok) r.problems.push_back("BERTH_STORAGE=s3://bucket/PREFIX: the prefix must be at most 256 of [A-Za-z0-9-_./]");
  r.string("BERTH_S3_REGION", c.s3_region);
  bool region_ok = !c.s3_region.empty() && c.s3_region.size() <= 64;
  for (char ch : c.s3_region) region_ok = region_ok && (lower_digit(ch) || ch == '-');
  if (!region_ok) r.problems.push_back("BERTH_S3_REGION must be a region name like us-east-1");
  r.string("BERTH_S3_ENDPOINT", c.s3_endpoint);
  if (c.s3_endpoint.empty()) c.s3_endpoint = "https://s3." + c.s3_region + ".amazonaws.com";
  while (c.s3_endpoint.ends_with('/')) c.s3_endpoint.pop_back();
  const auto host = c.s3_endpoint.substr(c.s3_endpoint.find("://") == std::string::npos ? 0 : c.s3_endpoint.find("://") + 3);
  if ((!c.s3_endpoint.starts_with("http://") && !c.s3_endpoint.starts_with("https://")) || host.empty() ||
      host.find_first_of("/?#@ ") != std::string::npos)
    r.problems.push_back("BERTH_S3_ENDPOINT must be http(s)://host[:port] without a path, got \"" + c.s3_endpoint + "\"");
  if (auto v = r.get("BERTH_S3_PATH_STYLE")) {
    if (*v == "true" || *v == "1") c.s3_path_style = true;
    else if (*v == "false" || *v == "0") c.s3_path_style = false;
    else r.problems.push_back("BERTH_S3_PATH_STYLE must be true or false");
  }
  r.string("AWS_ACCESS_KEY_ID", c.s3_access_key_id);
  r.string("AWS_SECRET_ACCESS_KEY", c.s3_secret_access_key);
  r.string("BERTH_S3_ACCESS_KEY_ID", c.s3_access_key_id);
  r.string("BERTH_S3_SECRET_ACCESS_KEY", c.s3_secret_access_key);
  if (c.s3_access_key_id.empty() || c.s3_secret_access_key.empty())
    r.problems.push_back("BERTH_STORAGE=s3:// needs BERTH_S3_ACCESS_KEY_ID and BERTH_S3_SECRET_ACCESS_KEY");
  r.integer("BERTH_S3_TIMEOUT_S", c.s3_timeout_s, 1, 600);
}

}  // namespace

config_error::config_error(std::vector<std::string> p) : std::runtime_error(join_problems(p)), problems(std::move(p)) {}

config parse_config(const env_lookup& env) {
  config c;
  reader r{env, {}};

  auto host_port = [&](const char* name, std::string& host, std::uint16_t& port_out) {
    auto v = r.get(name);
    if (!v) return;
    auto colon = v->rfind(':');
    auto port = colon == std::string::npos ? std::nullopt : parse_int(v->substr(colon + 1));
    if (!port || *port < 0 || *port > 65535 || colon == 0) {
      r.problems.push_back(std::string(name) + " must be host:port (port 0 picks a free one), got \"" + *v + "\"");
      return;
    }
    host = v->substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    port_out = static_cast<std::uint16_t>(*port);
  };
  host_port("BERTH_LISTEN", c.listen_host, c.listen_port);
  host_port("BERTH_GATEWAY_LISTEN", c.gateway_listen_host, c.gateway_listen_port);
  if (auto v = r.get("BERTH_GATEWAY_ADVERTISE")) {
    std::string host;
    std::uint16_t port = 0;
    host_port("BERTH_GATEWAY_ADVERTISE", host, port);
    if (!host.empty() && port == 0) r.problems.push_back("BERTH_GATEWAY_ADVERTISE needs the port workers dial, not 0");
    else if (!host.empty()) c.gateway_advertise = *v;
  }
  r.string("BERTH_DATA_DIR", c.data_dir);
  if (auto v = r.get("BERTH_API_KEYS")) {
    for (auto& entry : split_list(*v)) {
      // `key=alice|team-*` scopes a key; a key may itself end in '=' (base64), so only a valid user list counts.
      auto eq = entry.rfind('=');
      auto users = eq == std::string::npos ? std::string() : entry.substr(eq + 1);
      bool scoped = !users.empty() && users.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-|*") == std::string::npos;
      std::string key = scoped ? entry.substr(0, eq) : entry;
      if (scoped) {
        std::vector<std::string> patterns;
        for (std::size_t from = 0; from <= users.size();) {
          auto bar = users.find('|', from);
          auto p = users.substr(from, bar == std::string::npos ? std::string::npos : bar - from);
          if (p.empty() || p.find('*') < p.size() - 1)
            r.problems.push_back("BERTH_API_KEYS: user patterns are names or prefixes ending in *, separated by |");
          else
            patterns.push_back(p);
          if (bar == std::string::npos) break;
          from = bar + 1;
        }
        c.key_users[key] = patterns;
      }
      c.api_keys.push_back(key);
    }
  }
  if (c.api_keys.empty())
    r.problems.push_back("BERTH_API_KEYS must name at least one API key (comma-separated); berthd never runs open");
  for (const auto& k : c.api_keys)
    if (k.size() < 16) { r.problems.push_back("every key in BERTH_API_KEYS must be at least 16 characters long"); break; }
  // Admin keys manage what all users share (global skills and agents); each must be an unscoped API key.
  if (auto v = r.get("BERTH_ADMIN_KEYS")) c.admin_keys = split_list(*v);
  for (const auto& k : c.admin_keys)
    if (std::find(c.api_keys.begin(), c.api_keys.end(), k) == c.api_keys.end() || c.key_users.count(k)) {
      r.problems.push_back("every key in BERTH_ADMIN_KEYS must also be an unscoped key in BERTH_API_KEYS");
      break;
    }

  r.string("BERTH_STORAGE", c.storage);
  if (c.storage.starts_with("s3://")) parse_s3(r, c);
  else if (c.storage != "local" && c.storage != "postgres")
    r.problems.push_back("BERTH_STORAGE must be local, postgres or s3://bucket/prefix, got \"" + c.storage + "\"");
  r.bytes("BERTH_SKILL_MAX_FILE_BYTES", c.skill_max_file_bytes, 1024, 16LL << 20);
  r.bytes("BERTH_SKILL_MAX_BYTES", c.skill_max_bytes, 1024, 64LL << 20);
  r.bytes("BERTH_AGENT_MAX_BYTES", c.agent_max_bytes, 1024, 1LL << 20);
  r.bytes("BERTH_USER_FILES_MAX_BYTES", c.user_files_max_bytes, 4096, 1LL << 30);
  r.integer("BERTH_SKILL_SET_KEEP_S", c.skill_set_keep_s, 1, 30 * 86400);

  r.string("BERTH_WORKER_IMAGE", c.worker_image);
  r.string("BERTH_WORKER_NETWORK", c.worker_network);
  r.string("BERTH_EXECUTOR", c.executor);
  if (c.executor != "docker" && c.executor != "swarm" && c.executor != "kubernetes")
    r.problems.push_back("BERTH_EXECUTOR must be docker, swarm or kubernetes, got \"" + c.executor + "\"");
  r.string("BERTH_SWARM_NETWORK", c.swarm_network);
  r.string("BERTH_KUBECONFIG", c.kubeconfig);
  r.string("BERTH_KUBE_API", c.kube_api);
  if (!c.kube_api.empty() && !c.kube_api.starts_with("https://") && !c.kube_api.starts_with("http://"))
    r.problems.push_back("BERTH_KUBE_API must be https://host:port, got \"" + c.kube_api + "\"");
  r.string("BERTH_KUBE_NAMESPACE", c.kube_namespace);
  r.string("BERTH_KUBE_TOKEN_FILE", c.kube_token_file);
  r.string("BERTH_KUBE_CA_FILE", c.kube_ca_file);
  r.integer("BERTH_KUBE_TIMEOUT_S", c.kube_timeout_s, 1, 600);
  if (auto v = r.get("BERTH_SWARM_CONSTRAINTS")) {
    c.swarm_constraints.clear();
    for (std::size_t from = 0; from <= v->size();) {
      auto semi = v->find(';', from);
      const std::string part = v->substr(from, semi == std::string::npos ? std::string::npos : semi - from);
      auto one = trim(part);
      if (!one.empty()) c.swarm_constraints.push_back(std::string(one));
      if (semi == std::string::npos) break;
      from = semi + 1;
    }
  }
  if ((c.executor == "swarm" || c.executor == "kubernetes") && c.gateway_advertise.empty())
    r.problems.push_back("BERTH_EXECUTOR=" + c.executor + " runs workers on other machines: set BERTH_GATEWAY_LISTEN and "
                         "BERTH_GATEWAY_ADVERTISE (the address workers dial for the credential gateway)");
  if (auto v = r.get("BERTH_ENGINES")) c.engines = split_list(*v);
  r.string("BERTH_DEFAULT_ENGINE", c.default_engine);
  bool known = false;
  for (const auto& e : c.engines) known = known || e == c.default_engine;
  if (!known) r.problems.push_back("BERTH_DEFAULT_ENGINE \"" + c.default_engine + "\" is not in BERTH_ENGINES (" + join(c.engines) + ")");

  if (auto v = r.get("BERTH_DOCKER_HOST")) {
    if (!starts_with(*v, "unix://") || v->size() <= 7)
      r.problems.push_back("BERTH_DOCKER_HOST must be unix:///path/to/docker.sock, got \"" + *v + "\"");
    else
      c.docker_socket = v->substr(7);
  }
  r.string("BERTH_INSTANCE", c.instance);
  for (char ch : c.instance)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') {
      r.problems.push_back("BERTH_INSTANCE may hold only letters, digits, - and _");
      break;
    }
  r.string("BERTH_DATABASE_URL", c.database_url);
  if (!c.database_url.empty() && !starts_with(c.database_url, "postgres://") && !starts_with(c.database_url, "postgresql://"))
    r.problems.push_back("BERTH_DATABASE_URL must be a postgresql://user:password@host:port/database URL (unset: SQLite "
                         "under BERTH_DATA_DIR)");
  if (c.storage == "postgres" && !c.database_url.starts_with("postgres"))
    r.problems.push_back("BERTH_STORAGE=postgres keeps files in the PostgreSQL store: set BERTH_DATABASE_URL to it");
  r.string("BERTH_NODE_ID", c.node_id);
  for (char ch : c.node_id)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') {
      r.problems.push_back("BERTH_NODE_ID may hold only letters, digits, '.', - and _");
      break;
    }
  if (c.node_id.size() > 32) r.problems.push_back("BERTH_NODE_ID is longer than 32 characters (it names a unix socket)");
  r.integer("BERTH_LEASE_S", c.lease_s, 3, 300);
  r.integer("BERTH_IO_THREADS", c.io_threads, 1, 64);
  r.integer("BERTH_MAX_CONNECTIONS", c.max_connections, 16, 1 << 20);
  r.integer("BERTH_MAX_CONNECTIONS_PER_CLIENT", c.max_connections_per_client, 1, 1 << 20);
  if (auto v = r.get("BERTH_TRUSTED_PROXIES")) c.trusted_proxies = split_list(*v);
  r.integer("BERTH_AUTH_FAILURES_PER_CLIENT", c.auth_failures_per_client, 1, 1 << 20);
  r.integer("BERTH_AUTH_FAILURES_GLOBAL", c.auth_failures_global, 1, 1 << 24);
  r.string("BERTH_METRICS_LISTEN", c.metrics_listen);
  if (!c.metrics_listen.empty() && c.metrics_listen.rfind(':') == std::string::npos)
    r.problems.push_back("BERTH_METRICS_LISTEN must be host:port");

  r.integer("BERTH_MAX_CONCURRENT", c.max_concurrent, 1, 1000);
  r.integer("BERTH_MAX_PER_USER", c.max_per_user, 1, 1000);
  r.integer("BERTH_QUEUE_MAX", c.queue_max, 1, 100000);
  r.integer("BERTH_RUN_TIMEOUT_S", c.run_timeout_s, 1, 7 * 24 * 3600);
  r.integer("BERTH_IDLE_TIMEOUT_S", c.idle_timeout_s, 1, 7 * 24 * 3600);
  r.integer("BERTH_STOP_GRACE_S", c.stop_grace_s, 0, 300);
  r.integer("BERTH_ORPHAN_GRACE_S", c.orphan_grace_s, 0, 86400);
  r.integer("BERTH_RECONCILE_S", c.reconcile_s, 1, 3600);

  if (auto v = r.get("BERTH_SPARES")) {
    if (*v == "on") c.spares = true;
    else if (*v == "off") c.spares = false;
    else r.problems.push_back("BERTH_SPARES must be on or off, got \"" + *v + "\"");
  }
  if (auto v = r.get("BERTH_SPARE_WARM_CLI")) {
    if (*v == "on") c.spare_warm_cli = true;
    else if (*v == "off") c.spare_warm_cli = false;
    else r.problems.push_back("BERTH_SPARE_WARM_CLI must be on or off, got \"" + *v + "\"");
  }
  r.integer("BERTH_SPARES_MAX", c.spares_max, 0, 1000);
  r.integer("BERTH_NETNS_SPARES", c.netns_spares, 0, 64);
  r.integer("BERTH_SPARE_IDLE_S", c.spare_idle_s, 1, 86400);
  r.integer("BERTH_DASHBOARD_SESSION_S", c.dashboard_session_s, 60, 30 * 86400);
  r.string("BERTH_SLACK_SIGNING_SECRET", c.slack_signing_secret);
  r.string("BERTH_SLACK_BOT_TOKEN", c.slack_bot_token);
  r.string("BERTH_SLACK_API_BASE", c.slack_api_base);
  r.string("BERTH_TELEGRAM_BOT_TOKEN", c.telegram_bot_token);
  r.string("BERTH_TELEGRAM_SECRET_TOKEN", c.telegram_secret_token);
  r.integer("BERTH_SCHEDULE_MIN_INTERVAL_S", c.schedule_min_interval_s, 1, 86400);
  r.string("BERTH_GITHUB_WEBHOOK_SECRET", c.github_webhook_secret);
  r.string("BERTH_GITHUB_TOKEN", c.github_token);
  r.string("BERTH_GITHUB_API_BASE", c.github_api_base);
  r.string("BERTH_GITHUB_GIT_BASE", c.github_git_base);
  r.string("BERTH_GITHUB_MENTION", c.github_mention);
  if (!c.github_webhook_secret.empty() && c.github_token.empty())
    r.problems.push_back("BERTH_GITHUB_WEBHOOK_SECRET needs BERTH_GITHUB_TOKEN (the replies are comments posted with it)");
  if (c.github_mention.size() < 2 || c.github_mention.size() > 64 || c.github_mention[0] != '@')
    r.problems.push_back("BERTH_GITHUB_MENTION must be @name (2-64 characters)");
  r.string("BERTH_TELEGRAM_API_BASE", c.telegram_api_base);
  // A named array, not a braced list in the for: gcc 12's -fsanitize=thread build read a wild pointer from that.
  const std::pair<const char*, std::string*> api_bases[] = {{"BERTH_SLACK_API_BASE", &c.slack_api_base},
                                                           {"BERTH_TELEGRAM_API_BASE", &c.telegram_api_base},
                                                           {"BERTH_GITHUB_API_BASE", &c.github_api_base},
                                                           {"BERTH_GITHUB_GIT_BASE", &c.github_git_base}};
  for (auto [name, base] : api_bases) {
    if (!starts_with(*base, "http://") && !starts_with(*base, "https://"))
      r.problems.push_back(std::string(name) + " must start with http:// or https://");
    while (!base->empty() && base->back() == '/') base->pop_back();
  }
  if (!c.slack_signing_secret.empty() && c.slack_bot_token.empty())
    r.problems.push_back("BERTH_SLACK_SIGNING_SECRET is set but BERTH_SLACK_BOT_TOKEN is not: replies could not be posted");
  if (!c.telegram_secret_token.empty() && c.telegram_bot_token.empty())
    r.problems.push_back("BERTH_TELEGRAM_SECRET_TOKEN is set but BERTH_TELEGRAM_BOT_TOKEN is not: replies could not be sent");
  if (!c.telegram_bot_token.empty() && c.telegram_secret_token.empty())
    r.problems.push_back("BERTH_TELEGRAM_BOT_TOKEN needs BERTH_TELEGRAM_SECRET_TOKEN (set it as the webhook's secret_token): an unverified hook would run agents for anyone");
  if (c.telegram_secret_token.size() > 256 ||
      c.telegram_secret_token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
    r.problems.push_back("BERTH_TELEGRAM_SECRET_TOKEN may hold only A-Z a-z 0-9 _ - (at most 256), as Telegram's setWebhook requires");
  if (auto v = r.get("BERTH_CALLBACK_ALLOW")) c.callback_allow = split_list(*v);
  for (const auto& a : c.callback_allow)
    if (!starts_with(a, "http://") && !starts_with(a, "https://"))
      r.problems.push_back("BERTH_CALLBACK_ALLOW entries must look like https://host, https://host:port or http://host:*, got \"" + a + "\"");
  r.integer("BERTH_DELIVERY_DEADLINE_S", c.delivery_deadline_s, 10, 30 * 86400);
  r.integer("BERTH_DELIVERY_BACKOFF_MS", c.delivery_backoff_ms, 10, 60000);
  r.integer("BERTH_CHAT_UPDATE_MS", c.chat_update_ms, 200, 60000);
  r.bytes("BERTH_WORKER_MEMORY", c.worker_memory, 6LL << 20, 1LL << 40);
  if (auto v = r.get("BERTH_WORKER_CPUS")) {
    auto d = parse_double(*v);
    if (!d || *d < 0.01 || *d > 256) r.problems.push_back("BERTH_WORKER_CPUS must be a number in [0.01, 256], got \"" + *v + "\"");
    else c.worker_cpus = *d;
  }
  r.integer("BERTH_WORKER_PIDS", c.worker_pids, 8, 1 << 22);
  if (r.get("BERTH_WORKSPACE_MAX_BYTES") && r.get("BERTH_WORKSPACE_MAX_BYTES") != "0")
    r.bytes("BERTH_WORKSPACE_MAX_BYTES", c.workspace_max_bytes, 1 << 20, 1LL << 50);
  r.integer("BERTH_WORKSPACE_IDLE_S", c.workspace_idle_s, 0, 10 * 365 * 86400);
  r.integer("BERTH_WORKSPACE_CHECK_S", c.workspace_check_s, 1, 3600);
  r.bytes("BERTH_MAX_OUTPUT_BYTES", c.max_output_bytes, 1024, 1LL << 34);
  r.bytes("BERTH_MAX_LINE_BYTES", c.max_line_bytes, 256, 64LL << 20);

  r.string("BERTH_CLAUDE_PERMISSION_MODE", c.claude_permission_mode);
  static constexpr std::string_view modes[] = {"default", "acceptEdits", "bypassPermissions", "plan", "dontAsk"};
  if (std::find(std::begin(modes), std::end(modes), c.claude_permission_mode) == std::end(modes))
    r.problems.push_back("BERTH_CLAUDE_PERMISSION_MODE must be one of default, acceptEdits, bypassPermissions, plan, dontAsk");
  if (auto v = r.get("BERTH_CLAUDE_ALLOWED_TOOLS")) c.claude_allowed_tools = split_list(*v);
  r.integer("BERTH_CLAUDE_MAX_TURNS", c.claude_max_turns, 1, 1000);
  r.integer("BERTH_CLAUDE_MAX_RETRIES", c.claude_max_retries, 0, 15);
  r.string("BERTH_CLAUDE_MODEL", c.claude_model);
  r.string("ANTHROPIC_API_KEY", c.anthropic_api_key);
  r.string("CLAUDE_CODE_OAUTH_TOKEN", c.claude_oauth_token);
  r.string("ANTHROPIC_BASE_URL", c.anthropic_base_url);
  if (!c.anthropic_base_url.empty() && !starts_with(c.anthropic_base_url, "http://") && !starts_with(c.anthropic_base_url, "https://"))
    r.problems.push_back("ANTHROPIC_BASE_URL must start with http:// or https://");
  r.string("BERTH_GATEWAY_VOLUME", c.gateway_volume);
  r.string("BERTH_GATEWAY_DIR", c.gateway_dir);
  r.bytes("BERTH_GATEWAY_MAX_BODY_BYTES", c.gateway_max_body_bytes, 64 << 10, 1LL << 30);
  r.integer("BERTH_GATEWAY_RELAY_PORT", c.gateway_relay_port, 1, 65535);
  if (auto v = r.get("BERTH_EGRESS_ALLOW")) {
    for (auto& entry : split_list(*v)) {
      auto colon = entry.rfind(':');
      auto port = colon == std::string::npos ? std::nullopt : parse_int(entry.substr(colon + 1));
      if (colon == 0 || !port || *port < 1 || *port > 65535)
        r.problems.push_back("BERTH_EGRESS_ALLOW entries are host:port or *.domain:port, got \"" + entry + "\"");
      else
        c.egress_allow.push_back(entry);
    }
  }

  r.string("BERTH_PRICES", c.prices_spec);
  {
    std::string why;
    if (auto t = parse_prices(c.prices_spec, why)) c.prices = std::move(*t);
    else r.problems.push_back("BERTH_PRICES: " + why);
  }

  r.string("BERTH_LOG_LEVEL", c.log_level);
  r.string("BERTH_LOG_FORMAT", c.log_format);
  log::level lvl;
  log::format fmt;
  if (!log::parse_level(c.log_level, lvl)) r.problems.push_back("BERTH_LOG_LEVEL must be debug|info|warn|error");
  if (!log::parse_format(c.log_format, fmt)) r.problems.push_back("BERTH_LOG_FORMAT must be text|json");

  if (c.executor != "docker") {
    // Warm spares and namespaces made ahead are containers on the local engine: they have no cluster meaning.
    if (c.spares) r.problems.push_back("BERTH_SPARES=on works with BERTH_EXECUTOR=docker only");
    c.netns_spares = 0;
  }

  if (!r.problems.empty()) throw config_error(std::move(r.problems));
  return c;
}

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::vector<std::pair<std::string, std::string>> describe_config(const config& c) {
  return {
      {"listen", c.listen_host + ":" + std::to_string(c.listen_port)},
      {"gateway_listen", c.gateway_listen_host.empty() ? std::string("unix socket only")
                                                       : c.gateway_listen_host + ":" + std::to_string(c.gateway_listen_port)},
      {"gateway_advertise", c.gateway_advertise.empty() ? std::string("the unix socket") : c.gateway_advertise},
      {"data_dir", c.data_dir},
      {"api_keys", std::to_string(c.api_keys.size()) + " configured, " + std::to_string(c.key_users.size()) +
                       " limited to some users"},
      {"worker_image", c.worker_image},
      {"worker_network", c.worker_network},
      {"executor", c.executor == "swarm" ? "swarm (network " + c.swarm_network + (c.swarm_constraints.empty() ? std::string() : ", constraints " + join(c.swarm_constraints)) + ")" : c.executor},
      {"engines", join(c.engines)},
      {"default_engine", c.default_engine},
      {"docker", "unix://" + c.docker_socket},
      {"io_threads", std::to_string(c.io_threads)},
      {"connections", "max " + std::to_string(c.max_connections) + ", per client " + std::to_string(c.max_connections_per_client)},
      {"trusted_proxies", c.trusted_proxies.empty() ? "(none: X-Forwarded-For ignored)" : join(c.trusted_proxies)},
      {"auth_failures", std::to_string(c.auth_failures_per_client) + "/min per client, " +
                            std::to_string(c.auth_failures_global) + "/min in all"},
      {"metrics_listen", c.metrics_listen.empty() ? "(main listener, API key)" : c.metrics_listen},
      {"max_concurrent", std::to_string(c.max_concurrent)},
      {"max_per_user", std::to_string(c.max_per_user)},
      {"queue_max", std::to_string(c.queue_max)},
      {"database", c.database_url.empty() ? "sqlite (" + c.data_dir + "/berth.db)" : redact_url_password(c.database_url)},
      {"lease_s", std::to_string(c.lease_s)},
      {"run_timeout_s", std::to_string(c.run_timeout_s)},
      {"idle_timeout_s", std::to_string(c.idle_timeout_s)},
      {"stop_grace_s", std::to_string(c.stop_grace_s)},
      {"spares", c.spares ? "on (max " + std::to_string(c.spares_max) + ", idle " + std::to_string(c.spare_idle_s) + " s)" : "off"},
      {"netns_spares", c.worker_network == "none" ? std::to_string(c.netns_spares) : "off (workers use " + c.worker_network + ")"},
      {"worker_memory", std::to_string(c.worker_memory)},
      {"worker_cpus", std::to_string(c.worker_cpus)},
      {"worker_pids", std::to_string(c.worker_pids)},
      {"workspaces", "max " + (c.workspace_max_bytes ? std::to_string(c.workspace_max_bytes) + " bytes" : std::string("unbounded")) +
                         ", expire after " + (c.workspace_idle_s ? std::to_string(c.workspace_idle_s) + " s idle" : std::string("never")) +
                         ", checked every " + std::to_string(c.workspace_check_s) + " s"},
      {"max_output_bytes", std::to_string(c.max_output_bytes)},
      {"max_line_bytes", std::to_string(c.max_line_bytes)},
      {"log", c.log_level + "/" + c.log_format},
      {"claude", "mode=" + c.claude_permission_mode + " max_turns=" + std::to_string(c.claude_max_turns) +
                     " model=" + (c.claude_model.empty() ? "(cli default)" : c.claude_model) + " tools=" +
                     (c.claude_allowed_tools.empty() ? "(all)" : join(c.claude_allowed_tools))},
      {"claude_credentials", !c.anthropic_api_key.empty() ? "ANTHROPIC_API_KEY set"
                             : !c.claude_oauth_token.empty() ? "CLAUDE_CODE_OAUTH_TOKEN set" : "none"},
      {"anthropic_base_url", c.anthropic_base_url.empty() ? "(default)" : c.anthropic_base_url},
      {"gateway", "volume " + (c.gateway_volume.empty() ? std::string("berth-gw-<instance>") : c.gateway_volume) +
                      ", dir " + (c.gateway_dir.empty() ? std::string("(the volume's mountpoint)") : c.gateway_dir) +
                      ", max body " + std::to_string(c.gateway_max_body_bytes) + " bytes"},
      {"egress_allow", c.egress_allow.empty() ? "(none: the model API only)" : join(c.egress_allow)},
      {"prices", c.prices_spec},
      {"storage", (c.storage == "s3" ? "s3://" + c.s3_bucket + (c.s3_prefix.empty() ? "" : "/" + c.s3_prefix) + " at " +
                                           c.s3_endpoint + " (" + c.s3_region + (c.s3_path_style ? ", path-style" : "") +
                                           ", key id " + c.s3_access_key_id + ")"
                                     : c.storage) + " (skills and agents: file " + std::to_string(c.skill_max_file_bytes) + ", skill " +
                      std::to_string(c.skill_max_bytes) + ", agent " + std::to_string(c.agent_max_bytes) + ", per user " +
                      std::to_string(c.user_files_max_bytes) + " bytes; " + std::to_string(c.admin_keys.size()) +
                      " admin keys; unused set volumes kept " + std::to_string(c.skill_set_keep_s) + " s)"},
      {"slack", c.slack_signing_secret.empty() ? "off" : "on (" + c.slack_api_base + ")"},
      {"telegram", c.telegram_secret_token.empty() ? "off" : "on (" + c.telegram_api_base + ")"},
      {"schedules", "min interval " + std::to_string(c.schedule_min_interval_s) + " s"},
      {"github", c.github_webhook_secret.empty() ? "off" : "on (" + c.github_api_base + ", repositories from " + c.github_git_base + ", mention " + c.github_mention + ")"},
      {"callback_allow", c.callback_allow.empty() ? "(none: callback_url refused)" : join(c.callback_allow)},
      {"deliveries", "deadline " + std::to_string(c.delivery_deadline_s) + " s, first retry " +
                         std::to_string(c.delivery_backoff_ms) + " ms"},
  };
}

}  // namespace berth
