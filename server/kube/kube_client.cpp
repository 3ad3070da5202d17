#include "server/kube/kube_client.hpp"

#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <httplib.h>
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
#include <openssl/pem.h>
#include <openssl/x509.h>
#endif

#include "common/base64.hpp"
#include "common/json_bounded.hpp"
#include "common/strings.hpp"
#include "server/docker/docker_client.hpp"  // url_escape

namespace berth::kube {
namespace {
using json = nlohmann::json;
constexpr const char* sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
constexpr int log_idle_timeout_s = 600;  // a followed log may stay quiet while the agent thinks

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trimmed(const std::string& s) { return std::string(trim(s)); }

// The named entry of a kubeconfig list ("clusters", "users", "contexts"): its inner object.
const json* named(const json& cfg, const char* list, const char* inner, const std::string& name) {
  if (!cfg.contains(list) || !cfg[list].is_array()) return nullptr;
  for (const auto& e : cfg[list])
    if (e.is_object() && string_at(e, "name") == name && e.contains(inner) && e[inner].is_object()) return &e[inner];
  return nullptr;
}
}  // namespace

std::optional<kube_target> target_from_kubeconfig(const json& cfg, std::string& why) {
  if (!cfg.is_object()) {
    why = "not a JSON object (write it with: kubectl config view --raw --minify -o json)";
    return std::nullopt;
  }
  const std::string current = string_at(cfg, "current-context");
  const json* ctx = named(cfg, "contexts", "context", current);
  if (!ctx) {
    why = "its current-context \"" + current + "\" is not among its contexts";
    return std::nullopt;
  }
  const json* cluster = named(cfg, "clusters", "cluster", string_at(*ctx, "cluster"));
  const json* user = named(cfg, "users", "user", string_at(*ctx, "user"));
  if (!cluster || !user) {
    why = "the current context names a cluster or user it does not define";
    return std::nullopt;
  }
  kube_target t;
  t.server = string_at(*cluster, "server");
  t.ca_file = string_at(*cluster, "certificate-authority");
  if (auto data = string_at(*cluster, "certificate-authority-data"); !data.empty()) t.ca_pem = base64_decode(data);
  t.token = string_at(*user, "token");
  if (t.token.empty() && !string_at(*user, "tokenFile").empty())
    if (auto f = read_file(string_at(*user, "tokenFile"))) t.token = trimmed(*f);
  t.space = string_at(*ctx, "namespace", "default");
  if (t.server.empty() || t.token.empty()) {
    why = "berth needs the cluster's server and a user token (client certificates and exec plugins are not supported)";
    return std::nullopt;
  }
  return t;
}

kube_target target_from(const config& c) {
  kube_target t;
  if (!c.kubeconfig.empty()) {
    auto text = read_file(c.kubeconfig);
    if (!text) throw std::runtime_error("BERTH_KUBECONFIG: cannot read " + c.kubeconfig);
    std::string why;
    auto k = target_from_kubeconfig(parse_json(*text), why);
    if (!k) throw std::runtime_error("BERTH_KUBECONFIG " + c.kubeconfig + ": " + why);
    t = *k;
  } else {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (host && port) t.server = "https://" + std::string(host) + ":" + port;
    t.ca_file = std::string(sa_dir) + "/ca.crt";
    if (auto ns = read_file(std::string(sa_dir) + "/namespace")) t.space = trimmed(*ns);
  }
  if (!c.kube_api.empty()) t.server = c.kube_api;
  if (!c.kube_namespace.empty()) t.space = c.kube_namespace;
  if (!c.kube_ca_file.empty()) t.ca_file = c.kube_ca_file;
  const std::string token_file = !c.kube_token_file.empty() ? c.kube_token_file : c.kubeconfig.empty() ? std::string(sa_dir) + "/token" : "";
  if (!token_file.empty()) {
    auto tok = read_file(token_file);
    if (!tok) throw std::runtime_error("BERTH_EXECUTOR=kubernetes: cannot read the API token at " + token_file +
                                       " (in the cluster: the pod's service account; outside: BERTH_KUBECONFIG or BERTH_KUBE_TOKEN_FILE)");
    t.token = trimmed(*tok);
  }
  if (t.space.empty()) t.space = "default";
  t.timeout_s = c.kube_timeout_s;
  if (t.server.empty())
    throw std::runtime_error("BERTH_EXECUTOR=kubernetes: no API server (not in a cluster: set BERTH_KUBE_API or BERTH_KUBECONFIG)");
  return t;
}

namespace {
std::unique_ptr<httplib::Client> client_for(const kube_target& t, int read_timeout_s) {
  auto cli = std::make_unique<httplib::Client>(t.server);
  cli->set_connection_timeout(t.timeout_s, 0);
  cli->set_read_timeout(read_timeout_s, 0);
  cli->set_write_timeout(t.timeout_s, 0);
  cli->set_bearer_token_auth(t.token);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  cli->enable_server_certificate_verification(true);
  if (!t.ca_file.empty() && !t.server.starts_with("http://")) cli->set_ca_cert_path(t.ca_file.c_str());
  if (!t.ca_pem.empty()) {
    X509_STORE* store = X509_STORE_new();
    BIO* bio = BIO_new_mem_buf(t.ca_pem.data(), static_cast<int>(t.ca_pem.size()));
    while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, x);
      X509_free(x);
    }
    BIO_free(bio);
    cli->set_ca_cert_store(store);  // owned by the client from here
  }
#endif
  return cli;
}

[[noreturn]] void fail(const std::string& what, const httplib::Result& r) {
  if (!r) throw kube_error(0, what + ": the Kubernetes API did not answer (" + httplib::to_string(r.error()) + ")");
  auto j = parse_json(r->body);
  std::string msg = string_at(j, "message");
  throw kube_error(r->status, what + ": " + std::to_string(r->status) + (msg.empty() ? "" : " " + msg));
}
}  // namespace

kube_client::kube_client(kube_target t) : t_(std::move(t)) {}

std::string kube_client::jobs_path() const { return "/apis/batch/v1/namespaces/" + docker::url_escape(t_.space) + "/jobs"; }
std::string kube_client::secrets_path() const { return "/api/v1/namespaces/" + docker::url_escape(t_.space) + "/secrets"; }
std::string kube_client::pods_path() const { return "/api/v1/namespaces/" + docker::url_escape(t_.space) + "/pods"; }

json kube_client::create(const std::string& collection, const json& body) {
  auto cli = client_for(t_, t_.timeout_s);
  auto r = cli->Post(collection, body.dump(), "application/json");
  if (!r || r->status < 200 || r->status >= 300) fail("POST " + collection, r);
  return parse_json(r->body);
}

json kube_client::get(const std::string& path) {
  auto cli = client_for(t_, t_.timeout_s);
  auto r = cli->Get(path);
  if (r && r->status == 404) return nullptr;
  if (!r || r->status != 200) fail("GET " + path, r);
  return parse_json(r->body);
}

std::string kube_client::version() {
  auto v = get("/version");
  return "Kubernetes " + string_at(v, "gitVersion", "?");
}

json kube_client::list(const std::string& collection, const std::string& label_selector) {
  auto j = get(collection + "?labelSelector=" + docker::url_escape(label_selector));
  return j.is_object() && j.contains("items") && j["items"].is_array() ? j["items"] : json::array();
}

void kube_client::remove(const std::string& path) {
  auto cli = client_for(t_, t_.timeout_s);
  auto r = cli->Delete(path + "?propagationPolicy=Background");
  if (r && (r->status == 404 || (r->status >= 200 && r->status < 300))) return;
  fail("DELETE " + path, r);
}

// stop() may come before the connection exists or while it is being made: whichever of stop() and the
// socket's creation comes second shuts the socket down, so a follow never outlives a stop.
struct log_follow::impl {
  std::string pods_path;
  std::unique_ptr<httplib::Client> cli;
  std::atomic<bool> stopped{false};
  std::atomic<int> fd{-1};
};

log_follow::log_follow(const kube_client& api) : p_(std::make_unique<impl>()) {
  p_->pods_path = api.pods_path();
  p_->cli = client_for(api.target(), log_idle_timeout_s);
  p_->cli->set_socket_options([p = p_.get()](socket_t sock) {
    p->fd = sock;
    if (p->stopped) ::shutdown(sock, SHUT_RDWR);
  });
}

log_follow::~log_follow() = default;

void log_follow::stop() {
  p_->stopped = true;
  if (int fd = p_->fd; fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

int log_follow::run(const std::string& pod, const std::function<bool(std::string_view)>& piece) {
  int status = 0;
  if (p_->stopped) return 0;
  auto r = p_->cli->Get(p_->pods_path + "/" + docker::url_escape(pod) + "/log?container=worker&follow=true",
                        [&](const httplib::Response& res) {
                          status = res.status;
                          return res.status == 200;
                        },
                        [&](const char* data, std::size_t n) { return piece(std::string_view(data, n)); });
  return r ? r->status : status;
}

}  // namespace berth::kube
