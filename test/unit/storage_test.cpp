// Users' files: upload checks (hostile archives included), the canonical form, the local store, the set a run
// gets, MCP settings, and the MCP server the worker image carries.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "berthd_process.hpp"
#include "pg_scratch.hpp"
#include "server/docker/tar.hpp"
#include "server/runs/instructions.hpp"
#include "server/runs/skill_sets.hpp"
#include "server/storage/bundles.hpp"
#include "server/storage/db_store.hpp"
#include "server/storage/local_store.hpp"
#include "server/storage/mcp_config.hpp"
#include "server/storage/user_files.hpp"
#include "worker/mcp_echo.hpp"

using namespace berth;
using nlohmann::json;

namespace {
const std::string skill_md = "---\nname: lint-helper\ndescription: Lints the code the house way\n---\nRun scripts/lint.sh.\n";

std::string gzip(const std::string& raw) {
  std::string out(compressBound(static_cast<uLong>(raw.size())) + 64, '\0');
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A tar with one member of `type` at `path` (and a valid SKILL.md), gzip'd.
std::string targz_with(const std::string& path, char type, const std::string& content = "x") {
  auto tar = docker::tar_files({{"SKILL.md", skill_md, 0444, false}}, 0);
  tar.resize(tar.size() - 1024);  // drop the end blocks, append one member by hand
  char h[512] = {};
  std::memcpy(h, path.data(), std::min<std::size_t>(path.size(), 100));
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011o", static_cast<unsigned>(type == '0' ? content.size() : 0));
  std::snprintf(h + 136, 12, "%011o", 0);
  h[156] = type;
  if (type == '2' || type == '1') std::memcpy(h + 157, "/etc/passwd", 11);
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 7, "%06o", sum);
  tar.append(h, 512);
  if (type == '0') {
    tar += content;
    tar.append((512 - content.size() % 512) % 512, '\0');
  }
  tar.append(1024, '\0');
  return gzip(tar);
}

int status_of(const std::variant<storage::skill, storage::refusal>& v) {
  return std::holds_alternative<storage::refusal>(v) ? std::get<storage::refusal>(v).status : 200;
}
}  // namespace

TEST_CASE("skills: JSON and .tar.gz uploads become one canonical archive - same files same hash") {
  storage::bundle_limits l;
  auto from_json = storage::skill_from_json("lint-helper", json{{"files", {{"SKILL.md", skill_md}, {"scripts/lint.sh", "#!/bin/sh\necho ok\n"}}}}, l);
  REQUIRE(status_of(from_json) == 200);
  const auto& s = std::get<storage::skill>(from_json);
  CHECK(s.description == "Lints the code the house way");
  auto tar = docker::tar_files({{"lint-helper", {}, 0755, true}, {"lint-helper/SKILL.md", skill_md, 0644, false},
                                {"lint-helper/scripts", {}, 0755, true}, {"lint-helper/scripts/lint.sh", "#!/bin/sh\necho ok\n", 0755, false}},
                               1700000000);
  auto from_tgz = storage::skill_from_targz("lint-helper", gzip(tar), l);
  REQUIRE(status_of(from_tgz) == 200);
  CHECK(std::get<storage::skill>(from_tgz).files == s.files);
  const auto canonical = storage::skill_archive(s);
  CHECK(storage::sha256_hex(canonical) == storage::sha256_hex(storage::skill_archive(std::get<storage::skill>(from_tgz))));
  auto back = storage::skill_from_archive("lint-helper", canonical, l);
  REQUIRE(status_of(back) == 200);
  CHECK(std::get<storage::skill>(back).files == s.files);
  std::vector<docker::tar_member> members;
  std::string why;
  REQUIRE(docker::read_tar(canonical, 1 << 20, 100, members, why));
  for (const auto& m : members)
    if (m.path == "scripts/lint.sh") CHECK(m.mode == 0555);  // a script stays runnable, nothing is writable
}

TEST_CASE("skills: hostile uploads are refused - traversal - absolute - links - devices - duplicates - oversize - no SKILL.md - bad names") {
  storage::bundle_limits l;
  l.file_bytes = 1000;
  l.skill_bytes = 4000;
  l.skill_files = 5;
  auto js = [&](json files, const std::string& name = "ok") { return status_of(storage::skill_from_json(name, json{{"files", files}}, l)); };
  CHECK(js({{"SKILL.md", skill_md}, {"../escape", "x"}}) == 400);
  CHECK(js({{"SKILL.md", skill_md}, {"a/../../escape", "x"}}) == 400);
  CHECK(js({{"SKILL.md", skill_md}, {"/etc/passwd", "x"}}) == 400);
  CHECK(js({{"SKILL.md", skill_md}, {"a//b", "x"}}) == 400);
  CHECK(js({{"SKILL.md", skill_md}, {"a", "x"}, {"a/b", "y"}}) == 400);  // a file and a directory
  CHECK(js({{"README.md", "no skill here"}}) == 400);
  CHECK(js({{"SKILL.md", "no frontmatter"}}) == 400);
  CHECK(js({{"SKILL.md", skill_md}, {"big", std::string(1001, 'x')}}) == 413);
  CHECK(js({{"SKILL.md", skill_md}, {"a", std::string(1000, 'x')}, {"b", std::string(1000, 'x')}, {"c", std::string(1000, 'x')}, {"d", std::string(1000, 'x')}}) == 413);
  CHECK(js({{"SKILL.md", skill_md}, {"1", ""}, {"2", ""}, {"3", ""}, {"4", ""}, {"5", ""}}) == 413);
  CHECK(js({{"SKILL.md", skill_md}}, "Bad_Name") == 400);
  CHECK(js({{"SKILL.md", skill_md}}, "-dash") == 400);
  CHECK(js({{"SKILL.md", skill_md}}, std::string(65, 'a')) == 400);
  CHECK(status_of(storage::skill_from_json("ok", json{{"files", {{"SKILL.md", 5}}}}, l)) == 400);
  auto tgz = [&](const std::string& gz) { return status_of(storage::skill_from_targz("ok", gz, l)); };
  CHECK(tgz(targz_with("link", '2')) == 400);        // symlink
  CHECK(tgz(targz_with("hard", '1')) == 400);        // hard link
  CHECK(tgz(targz_with("dev", '3')) == 400);         // character device
  CHECK(tgz(targz_with("fifo", '6')) == 400);
  CHECK(tgz(targz_with("../up", '0')) == 400);
  CHECK(tgz(targz_with("/abs", '0')) == 400);
  CHECK(tgz(targz_with("SKILL.md", '0')) == 400);    // the same path twice
  CHECK(tgz(targz_with("notes", '0')) == 200);
  CHECK(tgz("not gzip at all") == 400);
  CHECK(tgz(gzip(std::string(10 << 20, '\0'))) == 413);  // 10 MiB of zeros in a few KiB: never unpacked whole
  CHECK(tgz(gzip("truncated tar")) == 400);
  auto agent = [&](const std::string& text, const std::string& name = "reviewer") {
    auto v = storage::agent_from_markdown(name, text, l);
    return std::holds_alternative<storage::refusal>(v) ? std::get<storage::refusal>(v).status : 200;
  };
  CHECK(agent("---\nname: reviewer\ndescription: Reviews diffs\n---\nBe strict.") == 200);
  CHECK(agent("no frontmatter") == 400);
  CHECK(agent("---\nname: reviewer\n---\n") == 400);
  CHECK(agent("---\nname: r\ndescription: d\n---\n" + std::string(64 * 1024, 'x')) == 413);
  CHECK(agent("---\nname: r\ndescription: d\n---\n", "../x") == 400);
}

TEST_CASE("tar: long paths use the ustar prefix - a malformed archive is refused - limits hold") {
  const std::string deep = std::string(90, 'a') + "/" + std::string(90, 'b') + "/file.txt";
  auto tar = docker::tar_files({{deep, "content", 0444, false}}, 0);
  std::vector<docker::tar_member> m;
  std::string why;
  REQUIRE(docker::read_tar(tar, 1000, 10, m, why));
  REQUIRE(m.size() == 1);
  CHECK(m[0].path == deep);
  CHECK(m[0].content == "content");
  m.clear();
  CHECK_FALSE(docker::read_tar(tar, 3, 10, m, why));  // over the byte limit
  auto broken = tar;
  broken[150] ^= 1;  // the checksum no longer matches
  m.clear();
  CHECK_FALSE(docker::read_tar(broken, 1000, 10, m, why));
  CHECK_FALSE(docker::read_tar(tar.substr(0, 700), 1000, 10, m, why));
}

TEST_CASE("user files: global and per-user scopes - the user's own wins - narrowing - per-user quota - nothing stored on refusal") {
  berth::test::temp_dir dir;
  storage::local_store fs(dir.path);
  storage::user_files files(fs, {}, 2000);
  auto sk = [](const std::string& name, const std::string& desc) {
    return std::get<storage::skill>(storage::skill_from_json(
        name, json{{"files", {{"SKILL.md", "---\nname: " + name + "\ndescription: " + desc + "\n---\nbody\n"}}}}, {}));
  };
  CHECK_FALSE(files.put_skill("", sk("house-style", "global one")));
  CHECK_FALSE(files.put_skill("alice", sk("house-style", "alice's own")));
  CHECK_FALSE(files.put_skill("alice", sk("lint", "lint")));
  CHECK_FALSE(files.put_agent("alice", std::get<storage::agent>(storage::agent_from_markdown("rev", "---\nname: rev\ndescription: reviews\n---\n", {}))));
  files.put_mcp("alice", R"({"mcpServers":{}})");
  auto alice = files.set_for("alice", std::nullopt, std::nullopt);
  CHECK(alice.skills.size() == 2);
  CHECK(alice.skills.at("house-style").description == "alice's own");
  CHECK(alice.agents.size() == 1);
  CHECK(alice.mcp == R"({"mcpServers":{}})");
  auto bob = files.set_for("bob", std::nullopt, std::nullopt);
  CHECK(bob.skills.size() == 1);
  CHECK(bob.skills.at("house-style").description == "global one");
  CHECK(bob.agents.empty());
  CHECK(bob.sha256 != alice.sha256);
  CHECK(files.set_for("carol", std::nullopt, std::nullopt).sha256 == bob.sha256);  // same set, same identity
  auto narrowed = files.set_for("alice", std::vector<std::string>{"lint"}, std::vector<std::string>{});
  CHECK(narrowed.skills.size() == 1);
  CHECK(narrowed.agents.empty());
  // The per-user limit counts what the scope keeps; over it, 413 and nothing is written.
  auto big = std::get<storage::skill>(storage::skill_from_json(
      "big", json{{"files", {{"SKILL.md", skill_md}, {"data", std::string(1900, 'x')}}}}, {}));
  auto r = files.put_skill("alice", big);
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK_FALSE(files.get_skill("alice", "big"));
  CHECK(files.skills("alice").size() == 2);
  CHECK(files.remove_skill("alice", "lint"));
  CHECK_FALSE(files.remove_skill("alice", "lint"));
  // The set's volume content: skills/<name>/…, agents/<name>.md, mcp.json.
  std::vector<docker::tar_member> m;
  std::string why;
  REQUIRE(docker::read_tar(runs::set_archive(alice), 1 << 20, 100, m, why));
  std::set<std::string> paths;
  for (const auto& x : m) paths.insert(x.path);
  CHECK(paths.count("skills/house-style/SKILL.md"));
  CHECK(paths.count("skills/lint/SKILL.md"));
  CHECK(paths.count("agents/rev.md"));
  CHECK(paths.count("mcp.json"));
}

TEST_CASE("skill set volumes: idle ones of this instance with no container go - in use or recently asked for stay") {
  auto vol = [](std::string name, std::string instance, std::string kind, std::int64_t refs) {
    docker::volume_usage v;
    v.name = std::move(name);
    v.labels = {{"berth.instance", std::move(instance)}, {"berth.kind", std::move(kind)}};
    v.ref_count = refs;
    return v;
  };
  const std::vector<docker::volume_usage> vols = {
      vol("old", "i1", "skillset", 0),     vol("busy", "i1", "skillset", 1),  vol("recent", "i1", "skillset", 0),
      vol("unknown", "i1", "skillset", 0), vol("other", "i2", "skillset", 0), vol("ws", "i1", "workspace", 0)};
  const std::map<std::string, std::int64_t> last = {{"old", 1'000}, {"busy", 1'000}, {"recent", 95'000}};
  // keep 10 s at t = 100 s; a volume this process never used counts from its start (t = 95 s: still kept).
  CHECK(runs::idle_set_volumes(vols, "i1", last, 95'000, 100'000, 10'000) == std::vector<std::string>{"old"});
  CHECK(runs::idle_set_volumes(vols, "i1", last, 10'000, 100'000, 10'000) == std::vector<std::string>{"old", "unknown"});
  CHECK(runs::idle_set_volumes(vols, "i1", last, 10'000, 100'000, 200'000).empty());
}

TEST_CASE("instructions: kept in the file storage - a row an older berth kept in the database moves there on first read") {
  berth::test::temp_dir dir;
  storage::local_store fs(dir.path);
  store::store db(":memory:");
  config c;
  docker::docker_client never("/nonexistent/berth-test.sock");  // get and remove touch no volume
  runs::instructions_service instructions(c, never, db, fs, "unit");
  db.set_instructions("old-user", "kept in the database", 1);
  CHECK_FALSE(fs.get(runs::instructions_key("old-user")));
  CHECK(instructions.get("old-user") == std::optional<std::string>("kept in the database"));
  CHECK(fs.get(runs::instructions_key("old-user")) == std::optional<std::string>("kept in the database"));
  CHECK_FALSE(db.instructions("old-user"));  // moved, not copied
  CHECK(instructions.get("old-user") == std::optional<std::string>("kept in the database"));
  CHECK_FALSE(instructions.get("nobody"));
  CHECK_FALSE(instructions.ready("nobody"));  // no instructions: nothing to mount, no engine call
  db.set_instructions("both", "db", 1);
  fs.put(runs::instructions_key("both"), "storage");
  CHECK(instructions.get("both") == std::optional<std::string>("storage"));  // the storage's copy wins
  CHECK(instructions.remove("both"));
  CHECK_FALSE(instructions.get("both"));  // the stale row went with it
  CHECK(instructions.remove("old-user"));
  CHECK_FALSE(instructions.remove("old-user"));
}

TEST_CASE("mcp settings: stdio commands must be in the image - remote servers on the allow-list - nothing unknown") {
  auto has = [](const std::string& c) { return c == "berth-worker"; };
  auto listed = [](const std::string& host, int port) { return host == "mcp.example.com" && port == 443; };
  std::string why;
  auto ok = storage::check_mcp_config(json::parse(R"({"mcpServers": {"echo": {"command": "berth-worker", "args": ["mcp-echo"]},
      "docs": {"type": "http", "url": "https://MCP.example.com/mcp", "headers": {"X-Team": "a"}}}})"), has, listed, why);
  REQUIRE(ok);
  CHECK((*ok)["mcpServers"]["echo"]["type"] == "stdio");
  CHECK((*ok)["mcpServers"]["docs"]["url"] == "https://MCP.example.com/mcp");
  for (const char* bad : {R"({"mcpServers": {"x": {"command": "curl"}}})", R"({"mcpServers": {"x": {"type": "http", "url": "https://evil.example.com/"}}})",
                          R"({"mcpServers": {"x": {"command": "berth-worker", "shell": true}}})", R"({"mcpServers": {"x y": {"command": "berth-worker"}}})",
                          R"({"mcpServers": {"x": {"type": "ws", "url": "wss://mcp.example.com"}}})", R"({"servers": {}})",
                          R"({"mcpServers": {"x": {"type": "http", "url": "https://user@mcp.example.com/"}}})",
                          R"({"mcpServers": {"x": {"type": 5, "command": "berth-worker"}}})",
                          R"({"mcpServers": {"x": {"type": {}, "url": "https://mcp.example.com/"}}})",
                          R"({"mcpServers": {"x": {"command": "berth-worker", "args": "mcp-echo"}}})"}) {
    INFO(bad);
    why.clear();
    CHECK_FALSE(storage::check_mcp_config(json::parse(bad), has, listed, why));
    CHECK_FALSE(why.empty());
  }
}

TEST_CASE("mcp-echo: initialize - tools/list - tools/call - notifications get no answer - unknown methods an error") {
  auto init = worker::mcp_echo_answer(json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"}, {"params", {{"protocolVersion", "2025-06-18"}}}});
  REQUIRE(init);
  CHECK((*init)["result"]["protocolVersion"] == "2025-06-18");
  CHECK((*init)["result"]["capabilities"].contains("tools"));
  CHECK_FALSE(worker::mcp_echo_answer(json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}));
  auto list = worker::mcp_echo_answer(json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}});
  CHECK((*list)["result"]["tools"][0]["name"] == "echo");
  auto call = worker::mcp_echo_answer(json{{"jsonrpc", "2.0"}, {"id", "c"}, {"method", "tools/call"}, {"params", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}}}});
  CHECK((*call)["id"] == "c");
  CHECK((*call)["result"]["content"][0]["text"] == "echo: hi");
  CHECK((*worker::mcp_echo_answer(json{{"jsonrpc", "2.0"}, {"id", 3}, {"method", "resources/list"}}))["error"]["code"] == -32601);
}

TEST_CASE("storage in the database: bytes kept exactly - listed by prefix - removed - a skill through user_files", "[postgres]") {
  auto exercise = [](store::store& db) {
    storage::db_store fs(db);
    const std::string bytes("\0\1\2 binary \xff\0", 13);
    fs.put("skills/users/alice/a.tar", bytes);
    fs.put("skills/users/alice/b.tar", "b");
    fs.put("skills/users/alicia/c.tar", "c");
    CHECK(fs.get("skills/users/alice/a.tar") == bytes);
    CHECK_FALSE(fs.get("skills/users/alice/none.tar"));
    CHECK(fs.list("skills/users/alice/") == std::vector<std::string>{"skills/users/alice/a.tar", "skills/users/alice/b.tar"});
    CHECK(fs.remove("skills/users/alice/b.tar"));
    CHECK_FALSE(fs.remove("skills/users/alice/b.tar"));
    storage::user_files files(fs, {}, 1 << 20);
    auto sk = storage::skill_from_json("kept", json{{"files", {{"SKILL.md", skill_md}}}}, {});
    CHECK_FALSE(files.put_skill("bob", std::get<storage::skill>(sk)));
    CHECK(files.skills("bob").size() == 1);
    CHECK(files.set_for("bob", std::nullopt, std::nullopt).skills.count("kept"));
  };
  {
    INFO("sqlite");
    store::store db(":memory:");
    exercise(db);
  }
  if (berth::test::test_database_url().empty()) return;
  INFO("postgresql");
  berth::test::scratch_database scratch;
  store::store db(scratch.url());
  exercise(db);
}
