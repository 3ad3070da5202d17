// The HTTP front in-process (in_process_server): the real route table, auth and sessions on port 0, no
// dockerd and no berthd child, so refusals and limits are checked directly.
#include <catch2/catch.hpp>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "in_process_server.hpp"
#include "raw_http.hpp"

using namespace berth::test;
using namespace std::chrono_literals;

TEST_CASE("in process: auth from the headers - /api/ paths hidden - malformed requests answered", "[integration][http]") {
  in_process_server s;
  api_client anon(s.port()), keyed(s.port(), test_key);
  CHECK(anon.get("/api/v1/runs").status == 401);
  CHECK(anon.get("/api/v1/no-such-thing").status == 401);
  CHECK(keyed.get("/api/v1/no-such-thing").status == 404);
  CHECK(keyed.get("/api/v1/runs").status == 200);
  CHECK(keyed.post("/api/v1/runs/x", "{}").status == 405);
  CHECK(anon.get("/health").status == 200);
  raw_connection c(s.port());
  c.send("POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n\r\n");
  CHECK(status_of(c.read_until("\r\n", 5s)) == 401);
  raw_connection bad(s.port());
  bad.send("GET /health HTTP/1.1\r\nno colon here\r\n\r\n");
  CHECK(status_of(bad.read_until("\r\n", 5s)) == 400);
}

TEST_CASE("in process: a scoped key may not run as another user", "[integration][http]") {
  const std::string scoped = "scoped-key-0123456789";
  in_process_server s([&](berth::config& c) {
    c.api_keys.push_back(scoped);
    c.key_users[scoped] = {"alice"};
  });
  api_client k(s.port(), scoped);
  auto r = k.post("/api/v1/runs", R"({"user":"bob","message":"m","engine":"echo"})", {{"Content-Type", "application/json"}});
  CHECK(r.status == 403);
  CHECK(r.json()["error"]["code"] == "forbidden_user");
  CHECK(k.get("/api/v1/sessions?user=bob").status == 403);
  CHECK(k.get("/metrics").status == 403);
}
