// S3 storage: the pure wire helpers, and (tagged [s3], run by ctest with the `s3` fixture: OpenStack Swift's
// s3api on loopback, which checks every signature) the store itself.
#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <vector>
#include <string>

#include "common/config.hpp"
#include "common/ids.hpp"
#include "server/storage/s3_store.hpp"
#include "server/storage/s3_wire.hpp"

using namespace berth;

TEST_CASE("s3 wire: URLs path-style and virtual-hosted - keys encoded as SigV4 canonicalises them") {
  storage::s3_target path{"http://127.0.0.1:9000", "skills", true};
  storage::s3_target hosted{"https://s3.eu-west-1.amazonaws.com", "skills", false};
  CHECK(storage::s3_bucket_url(path) == "http://127.0.0.1:9000/skills");
  CHECK(storage::s3_bucket_url(hosted) == "https://skills.s3.eu-west-1.amazonaws.com/");
  CHECK(storage::s3_object_url(path, "p/skills/users/a.b/x-y.tar") == "http://127.0.0.1:9000/skills/p/skills/users/a.b/x-y.tar");
  CHECK(storage::s3_object_url(hosted, "a b+c~d") == "https://skills.s3.eu-west-1.amazonaws.com/a%20b%2Bc~d");
  CHECK(storage::s3_uri_encode("a/b=c&d\xC3\xA9", false) == "a%2Fb%3Dc%26d%C3%A9");
  // Parameters in byte order, as the canonical request sorts them.
  CHECK(storage::s3_list_query("pre/fix", "", 1000) == "encoding-type=url&list-type=2&max-keys=1000&prefix=pre%2Ffix");
  CHECK(storage::s3_list_query("", "1/a=", 5) == "continuation-token=1%2Fa%3D&encoding-type=url&list-type=2&max-keys=5&prefix=");
}

TEST_CASE("s3 wire: a listing page's keys are decoded - truncation and the token read - error documents summarised") {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult><Name>b</Name><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>
<Contents><Key>p/skills/users/u/a%20b.tar</Key><ETag>&quot;x&quot;</ETag></Contents>
<Contents><Key>p/agents/global/r&amp;d.md</Key></Contents>
<NextContinuationToken>tok&amp;1</NextContinuationToken></ListBucketResult>)";
  auto page = storage::s3_parse_list(xml);
  REQUIRE(page.keys.size() == 2);
  CHECK(page.keys[0] == "p/skills/users/u/a b.tar");
  CHECK(page.keys[1] == "p/agents/global/r&d.md");
  CHECK(page.truncated);
  CHECK(page.next_continuation == "tok&1");
  auto last = storage::s3_parse_list("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  CHECK(last.keys.empty());
  CHECK_FALSE(last.truncated);
  CHECK(storage::s3_parse_list("<Contents><Key>unterminated").keys.empty());
  CHECK(storage::s3_error_summary(403, "<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>") ==
        "HTTP 403 SignatureDoesNotMatch: no");
  CHECK(storage::s3_error_summary(503, "") == "HTTP 503");
}

TEST_CASE("s3 config: s3://bucket/prefix - endpoint - credentials required - bad names refused") {
  auto parse = [](std::map<std::string, std::string> env) {
    env.emplace("BERTH_API_KEYS", "key-0123456789abcdef");
    return parse_config([env](const std::string& k) -> std::optional<std::string> {
      auto it = env.find(k);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
  };
  auto c = parse({{"BERTH_STORAGE", "s3://berth-files/team/a/"}, {"AWS_ACCESS_KEY_ID", "AKIA1"}, {"AWS_SECRET_ACCESS_KEY", "s"}});
  CHECK(c.storage == "s3");
  CHECK(c.s3_bucket == "berth-files");
  CHECK(c.s3_prefix == "team/a");
  CHECK(c.s3_endpoint == "https://s3.us-east-1.amazonaws.com");
  CHECK(c.s3_access_key_id == "AKIA1");
  for (auto bad : std::vector<std::map<std::string, std::string>>{
           {{"BERTH_STORAGE", "s3://Bad_Bucket"}, {"BERTH_S3_ACCESS_KEY_ID", "a"}, {"BERTH_S3_SECRET_ACCESS_KEY", "b"}},
           {{"BERTH_STORAGE", "s3://bucket"}},
           {{"BERTH_STORAGE", "s3://bucket"}, {"BERTH_S3_ACCESS_KEY_ID", "a"}, {"BERTH_S3_SECRET_ACCESS_KEY", "b"},
            {"BERTH_S3_ENDPOINT", "ftp://x"}},
           {{"BERTH_STORAGE", "s3://bucket"}, {"BERTH_S3_ACCESS_KEY_ID", "a"}, {"BERTH_S3_SECRET_ACCESS_KEY", "b"},
            {"BERTH_S3_ENDPOINT", "http://host/path"}},
           {{"BERTH_STORAGE", "s4://bucket"}}}) {
    INFO(bad.begin()->second);
    CHECK_THROWS_AS(parse(bad), config_error);
  }
  try {
    parse({{"BERTH_STORAGE", "s3://bucket"}, {"BERTH_S3_ACCESS_KEY_ID", "a"}, {"BERTH_S3_SECRET_ACCESS_KEY", "hunter2-secret"},
           {"BERTH_S3_REGION", "Bad Region"}});
    FAIL("a bad region passed");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()).find("hunter2-secret") == std::string::npos);
  }
}

namespace {
// The fixture's Swift: tempauth user test:tester / testing; each test its own bucket.
config s3_config(const std::string& bucket, const std::string& secret = "testing") {
  const char* endpoint = std::getenv("BERTH_TEST_S3_ENDPOINT");
  if (!endpoint) FAIL("BERTH_TEST_S3_ENDPOINT is not set: run through ctest (the s3 fixture starts Swift)");
  config c;
  c.storage = "s3";
  c.s3_endpoint = endpoint;
  c.s3_bucket = bucket;
  c.s3_prefix = "berth/test";
  c.s3_access_key_id = "test:tester";
  c.s3_secret_access_key = secret;
  c.s3_timeout_s = 20;
  return c;
}
std::string lower_id(std::size_t n) {
  std::string id = new_run_id().substr(26 - n);
  for (auto& ch : id) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return id;
}
std::string fresh_bucket() { return "berth-" + lower_id(12); }
}  // namespace

TEST_CASE("s3 store against Swift s3api: put - get - list under the prefix - remove - bytes kept exactly", "[s3]") {
  auto c = s3_config(fresh_bucket());
  storage::s3_store s(c);
  s.create_bucket();
  s.check();
  const std::string binary("\0\1\xff tar bytes\0", 15);
  s.put("skills/users/u1/a.tar", binary);
  s.put("skills/users/u1/b c.tar", "second");
  s.put("skills/users/u2/a.tar", "other user");
  s.put("agents/global/r.md", "agent");
  CHECK(s.get("skills/users/u1/a.tar") == binary);
  CHECK(s.get("skills/users/u1/a.tar") == binary);  // from the cache after a 304
  CHECK_FALSE(s.get("skills/users/u1/none.tar"));
  CHECK(s.list("skills/users/u1/") == std::vector<std::string>{"skills/users/u1/a.tar", "skills/users/u1/b c.tar"});
  CHECK(s.list("agents/") == std::vector<std::string>{"agents/global/r.md"});
  CHECK(s.list("mcp/").empty());
  // Another writer (a second instance on the same bucket) replaces an object: the cached copy is not served.
  storage::s3_store other(c);
  other.put("skills/users/u1/a.tar", "replaced elsewhere");
  CHECK(s.get("skills/users/u1/a.tar") == "replaced elsewhere");
  CHECK(s.remove("skills/users/u1/a.tar"));
  CHECK_FALSE(s.remove("skills/users/u1/a.tar"));
  CHECK_FALSE(s.get("skills/users/u1/a.tar"));
  for (const auto& k : s.list("")) s.remove(k);
  CHECK(s.list("").empty());
}

TEST_CASE("s3 store against Swift s3api: a listing longer than one page is followed to its end", "[s3]") {
  auto c = s3_config(fresh_bucket());
  storage::s3_store s(c, 10);  // pages of 10 keys: 23 objects need three of them
  s.create_bucket();
  std::vector<std::string> want;
  for (int i = 0; i < 23; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "agents/users/u/a%04d.md", i);
    want.emplace_back(name);
    s.put(name, "x");
  }
  s.put("agents/users/v/not-listed.md", "x");
  CHECK(s.list("agents/users/u/") == want);
  for (const auto& k : s.list("")) s.remove(k);
}

TEST_CASE("s3 store against Swift s3api: wrong secret - unknown key id - missing bucket - unreachable endpoint fail check() clearly", "[s3]") {
  const auto bucket = fresh_bucket();
  storage::s3_store good(s3_config(bucket));
  good.create_bucket();
  auto message = [](storage::s3_store& s) -> std::string {
    try {
      s.check();
    } catch (const storage::storage_error& e) {
      return e.what();
    }
    return "";
  };
  storage::s3_store wrong(s3_config(bucket, "not-the-secret-7731"));
  auto why = message(wrong);
  CHECK(why.find("refused berth's credentials") != std::string::npos);
  CHECK(why.find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(why.find("not-the-secret-7731") == std::string::npos);
  auto unknown_cfg = s3_config(bucket);
  unknown_cfg.s3_access_key_id = "nobody:none";
  storage::s3_store unknown(unknown_cfg);
  CHECK(message(unknown).find("refused berth's credentials") != std::string::npos);
  storage::s3_store missing(s3_config("berth-never-made-" + lower_id(8)));
  CHECK(message(missing).find("has no bucket") != std::string::npos);
  auto far_cfg = s3_config(bucket);
  far_cfg.s3_endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  storage::s3_store far(far_cfg);
  CHECK(message(far).find("could not list bucket") != std::string::npos);
  CHECK_THROWS_AS(wrong.put("x", "y"), storage::storage_error);
  CHECK_THROWS_AS(wrong.get("x"), storage::storage_error);
}
