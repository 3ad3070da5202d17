// BERTH_STORAGE=s3://bucket/prefix end to end: the real berthd against OpenStack Swift's s3api (the `s3` ctest
// fixture; every request's SigV4 signature is checked), the real CLI in the real worker, the fake Messages API.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "api_client.hpp"
#include "berthd_process.hpp"
#include "common/config.hpp"
#include "common/ids.hpp"
#include "docker_helpers.hpp"
#include "fake_anthropic.hpp"
#include "run_helpers.hpp"
#include "server/storage/s3_store.hpp"

using namespace berth::test;
using nlohmann::json;

namespace {
std::string s3_endpoint() {
  const char* e = std::getenv("BERTH_TEST_S3_ENDPOINT");
  if (!e) FAIL("BERTH_TEST_S3_ENDPOINT is not set: run through ctest (the s3 fixture starts Swift)");
  return e;
}

// A bucket of the test's own (Swift keeps it in the fixture's directory, removed with it).
std::string make_bucket() {
  std::string id = berth::new_run_id().substr(14);
  for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  berth::config c;
  c.s3_endpoint = s3_endpoint();
  c.s3_bucket = "berth-it-" + id;
  c.s3_access_key_id = "test:tester";
  c.s3_secret_access_key = "testing";
  berth::storage::s3_store(c).create_bucket();
  return c.s3_bucket;
}
}  // namespace

TEST_CASE("BERTH_STORAGE=s3 against Swift s3api: a skill and instructions put through one berthd reach its run and the runs of the next berthd started with an empty data dir",
          "[s3]") {
  const std::string bucket = make_bucket();
  const std::string secret = "sk-ant-test-s3-5c1e";
  fake_anthropic fake{{{"FAKE_ANTHROPIC_API_KEY", secret}}};
  auto instance = [&] {
    return berthd_process({{"BERTH_STORAGE", "s3://" + bucket + "/berth"}, {"BERTH_S3_ENDPOINT", s3_endpoint()},
                           {"BERTH_S3_ACCESS_KEY_ID", "test:tester"}, {"BERTH_S3_SECRET_ACCESS_KEY", "testing"},
                           {"BERTH_ENGINES", "claude"}, {"BERTH_DEFAULT_ENGINE", "claude"}, {"ANTHROPIC_API_KEY", secret},
                           {"ANTHROPIC_BASE_URL", fake.base_url()}});
  };
  const std::string skill = R"({"files": {"SKILL.md": "---\nname: kept\ndescription: S3-KEPT-SKILL-4471 survives restarts\n---\nbody\n",
                                          "data.bin": "\u0000\u0001binary\u0000"}})";
  std::string first_dir;
  {
    auto first = instance();
    first_dir = first.data_dir();
    api_client api(first.port(), test_key);
    REQUIRE(api.put("/api/v1/users/keeper/skills/kept", skill).status == 200);
    REQUIRE(api.put("/api/v1/users/keeper/instructions", json{{"instructions", "S3-KEPT-INSTRUCTIONS-3391"}}.dump()).status == 200);
    auto id = api.start_run({{"user", "keeper"}, {"message", "@@text:2"}});
    CHECK(api.wait_done(id)["status"] == "succeeded");
    auto requests = fake.message_requests();
    REQUIRE(!requests.empty());
    CHECK(requests.back()["body"].dump().find("S3-KEPT-SKILL-4471") != std::string::npos);
    CHECK(first.log().find("s3://" + bucket + "/berth at " + s3_endpoint()) != std::string::npos);
  }  // gone, and its data dir with it
  const auto before = fake.message_requests().size();
  auto second = instance();
  REQUIRE(second.data_dir() != first_dir);
  api_client api(second.port(), test_key);
  auto listed = api.get("/api/v1/users/keeper/skills").json();
  REQUIRE(listed["skills"].size() == 1);
  CHECK(listed["skills"][0]["name"] == "kept");
  CHECK(api.get("/api/v1/users/keeper/skills/kept").json()["files"]["data.bin"] == std::string("\0\1binary\0", 9));
  auto id = api.start_run({{"user", "keeper"}, {"message", "@@text:2"}});
  CHECK(api.wait_done(id)["status"] == "succeeded");
  auto requests = fake.message_requests();
  REQUIRE(requests.size() > before);
  CHECK(requests[before]["body"].dump().find("S3-KEPT-SKILL-4471") != std::string::npos);
  // The instructions too: the new instance wrote them into its own (new) instructions volume from the bucket.
  CHECK(api.get("/api/v1/users/keeper/instructions").json()["instructions"] == "S3-KEPT-INSTRUCTIONS-3391");
  CHECK(requests[before]["body"].dump().find("S3-KEPT-INSTRUCTIONS-3391") != std::string::npos);
  // Removed through the second: gone from the bucket.
  CHECK(api.del("/api/v1/users/keeper/skills/kept").status == 200);
  CHECK(api.get("/api/v1/users/keeper/skills").json()["skills"].empty());
  remove_user_volumes("keeper");
}

TEST_CASE("BERTH_STORAGE=s3 with a wrong secret: berthd stops at start with S3's refusal and never prints the secret", "[s3]") {
  const std::string bucket = make_bucket();
  temp_dir data;
  const std::string out = data.path + "/berthd.out";
  const std::string cmd = "env -i PATH=/usr/bin:/bin BERTH_API_KEYS=" + test_key + " BERTH_DATA_DIR=" + data.path +
                          " BERTH_LISTEN=127.0.0.1:0 BERTH_ENGINES=echo BERTH_DEFAULT_ENGINE=echo BERTH_STORAGE=s3://" + bucket +
                          " BERTH_S3_ENDPOINT=" + s3_endpoint() +
                          " BERTH_S3_ACCESS_KEY_ID=test:tester BERTH_S3_SECRET_ACCESS_KEY=wrong-secret-90c2 timeout 20 " BERTHD_PATH
                          " >" + out + " 2>&1";
  const int rc = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(rc) == 1);  // 124 would mean it started serving
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("refused berth's credentials for bucket " + bucket) != std::string::npos);
  CHECK(text.find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(text.find("wrong-secret-90c2") == std::string::npos);
}
