// docker_client's Swarm calls (Engine API 1.41, on a manager).
#include "server/docker/docker_client.hpp"

namespace berth::docker {
namespace {
constexpr int swarm_call_timeout_s = 30;
constexpr int stream_open_timeout_ms = 30000;

std::string id_of(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object() || !j.contains("ID") || !j["ID"].is_string()) throw docker_error(500, what + ": no ID in answer");
  return j["ID"].get<std::string>();
}

std::string label_filters(const std::string& label_filter) {
  return url_escape(nlohmann::json{{"label", {label_filter}}}.dump());
}
}  // namespace

std::string docker_client::create_secret(const nlohmann::json& body) {
  return id_of(transaction("POST", "/secrets/create", &body, swarm_call_timeout_s), "create secret");
}

void docker_client::remove_secret(const std::string& id) {
  transaction("DELETE", "/secrets/" + url_escape(id), nullptr, swarm_call_timeout_s, true);
}

std::string docker_client::create_service(const nlohmann::json& body) {
  return id_of(transaction("POST", "/services/create", &body, swarm_call_timeout_s), "create service");
}

void docker_client::remove_service(const std::string& id) {
  transaction("DELETE", "/services/" + url_escape(id), nullptr, swarm_call_timeout_s, true);
}

nlohmann::json docker_client::service_tasks(const std::string& service) {
  auto j = transaction("GET", "/tasks?filters=" + url_escape(nlohmann::json{{"service", {service}}}.dump()), nullptr,
                       swarm_call_timeout_s, true);  // 404: the service is gone, and its tasks with it
  return j.is_array() ? j : nlohmann::json::array();
}

nlohmann::json docker_client::node(const std::string& id) {
  return transaction("GET", "/nodes/" + url_escape(id), nullptr, swarm_call_timeout_s, true);
}

nlohmann::json docker_client::services(const std::string& label_filter) {
  auto j = transaction("GET", "/services?filters=" + label_filters(label_filter), nullptr, swarm_call_timeout_s);
  return j.is_array() ? j : nlohmann::json::array();
}

nlohmann::json docker_client::secrets(const std::string& label_filter) {
  auto j = transaction("GET", "/secrets?filters=" + label_filters(label_filter), nullptr, swarm_call_timeout_s);
  return j.is_array() ? j : nlohmann::json::array();
}

unix_stream docker_client::service_logs(const std::string& service, bool follow) {
  return unix_stream::open(socket_, "GET", "/services/" + url_escape(service) + "/logs?stdout=1&stderr=1" + (follow ? "&follow=1" : ""),
                           "", stream_open_timeout_ms);
}

nlohmann::json docker_client::network(const std::string& name) {
  return transaction("GET", "/networks/" + url_escape(name), nullptr, swarm_call_timeout_s, true);
}

void docker_client::create_overlay(const std::string& name, const std::map<std::string, std::string>& labels) {
  nlohmann::json body = {{"Name", name}, {"Driver", "overlay"}, {"Internal", true}, {"Attachable", true},
                         {"CheckDuplicate", true}, {"Labels", labels}};
  transaction("POST", "/networks/create", &body, swarm_call_timeout_s);
}

void docker_client::remove_network(const std::string& name) {
  transaction("DELETE", "/networks/" + url_escape(name), nullptr, swarm_call_timeout_s, true);
}

}  // namespace berth::docker
