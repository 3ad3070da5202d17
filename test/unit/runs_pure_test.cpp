#include <catch2/catch.hpp>

#include "common/event.hpp"
#include "frames.hpp"
#include "server/runs/exit_classifier.hpp"
#include "server/runs/line_splitter.hpp"
#include "server/runs/output_pump.hpp"
#include "server/runs/workspace_guard.hpp"

using namespace berth::runs;

TEST_CASE("line splitter: lines released only at newline - committed offset tracks them") {
  line_splitter s(100);
  std::vector<line> out;
  s.feed("ab", out);
  CHECK(out.empty());
  CHECK(s.committed() == 0);
  s.feed("c\nde\r\nf", out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].text == "abc");
  CHECK(out[1].text == "de");
  CHECK(s.committed() == 8);
  CHECK(s.total() == 9);
  line tail;
  CHECK(s.flush(tail));
  CHECK(tail.text == "f");
}

TEST_CASE("line splitter: an overlong line is cut and the excess counted") {
  line_splitter s(4);
  std::vector<line> out;
  s.feed("0123456789", out);
  s.feed("abc\nok\n", out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].text == "0123");
  CHECK(out[0].dropped == 9);
  CHECK(out[1].text == "ok");
  CHECK(out[1].dropped == 0);
}

namespace {
std::string out_line(const std::string& s) { return frame(1, s + "\n"); }
berth::store::run_record fresh() { return {}; }
}  // namespace

TEST_CASE("output pump: protocol lines become typed events - garbage becomes logs") {
  output_pump p(1 << 20, 1024, fresh());
  std::vector<draft> d;
  REQUIRE(p.feed(out_line(R"({"type":"text","text":"hi"})") + out_line("not json") +
                 out_line(R"({"type":"done","status":"x"})") + frame(2, "warn\n") + out_line(R"({"type":"result","text":"t","is_error":false})"), d));
  REQUIRE(d.size() == 5);
  CHECK(d[0].type == "text");
  CHECK(d[0].fields["text"] == "hi");
  CHECK(d[1].type == "log");
  CHECK(d[1].fields["line"] == "not json");
  CHECK(d[2].type == "log");  // berthd-only types from a worker are not trusted
  CHECK(d[2].fields.contains("problem"));
  CHECK(d[3].type == "log");
  CHECK(d[3].fields["stream"] == "stderr");
  CHECK(d[4].type == "result");
  CHECK(p.facts().saw_result);
}

TEST_CASE("output pump: resuming skips exactly the bytes already stored") {
  std::string l1 = out_line(R"({"type":"text","text":"one"})");
  std::string l2 = out_line(R"({"type":"text","text":"two"})");
  std::string e1 = frame(2, "err1\n");
  std::string all = l1 + e1 + l2;

  output_pump first(1 << 20, 1024, fresh());
  std::vector<draft> d1;
  REQUIRE(first.feed(l1 + e1 + l2.substr(0, 12), d1));  // crash mid-line of "two"
  REQUIRE(d1.size() == 2);
  auto progress = first.progress();

  berth::store::run_record resumed;
  resumed.stdout_offset = *progress.stdout_offset;
  resumed.stderr_offset = *progress.stderr_offset;
  output_pump second(1 << 20, 1024, resumed);
  std::vector<draft> d2;
  for (char c : all) REQUIRE(second.feed(std::string_view(&c, 1), d2));  // the full log replayed
  REQUIRE(d2.size() == 1);
  CHECK(d2[0].fields["text"] == "two");
}

TEST_CASE("output pump: output past the limit is dropped with one note - the result still counts") {
  output_pump p(100, 1024, fresh());
  std::vector<draft> d;
  std::string bytes;
  for (int i = 0; i < 10; ++i) bytes += out_line(R"({"type":"text","text":"0123456789"})");
  bytes += out_line(R"({"type":"result","text":"end","is_error":false})");
  REQUIRE(p.feed(bytes, d));
  int notes = 0, texts = 0, results = 0;
  for (auto& x : d) {
    if (x.type == "log" && x.fields.value("truncated", false)) ++notes;
    if (x.type == "text") ++texts;
    if (x.type == "result") ++results;
  }
  CHECK(notes == 1);
  CHECK(texts == 2);
  CHECK(results == 1);
  CHECK(*p.progress().truncated);
}

TEST_CASE("exit classification") {
  exit_facts f;
  f.saw_result = true;
  CHECK(classify_exit(f).end == berth::run_end::succeeded);
  f.exit_code = 3;
  CHECK(classify_exit(f).end == berth::run_end::failed);
  CHECK(classify_exit(f).reason == "worker exited with code 3");
  f.exit_code = 143;
  CHECK(classify_exit(f).reason == "worker exited with code 143 (SIGTERM): stopped from outside berthd, e.g. the docker engine shutting down");
  f.exit_code = 137;
  CHECK(classify_exit(f).reason == "worker exited with code 137 (SIGKILL): killed from outside berthd");
  f.error_kind = "auth";
  f.error_message = "invalid key";
  CHECK(classify_exit(f).reason == "auth: invalid key");
  f.oom_killed = true;
  CHECK(classify_exit(f).end == berth::run_end::oom);
  f.requested = stop_request::run_timeout;
  f.timeout_s = 4;
  CHECK(classify_exit(f).end == berth::run_end::timed_out);
  f.requested = stop_request::cancel;
  CHECK(classify_exit(f).end == berth::run_end::cancelled);
  exit_facts silent;
  CHECK(classify_exit(silent).end == berth::run_end::failed);  // exit 0 without a result is not a success
}

TEST_CASE("output pump: engine credentials are redacted from every line before it is an event") {
  const std::string key = "sk-ant-api03-abcdefghijklmnop";
  berth::store::run_record r;
  output_pump p(1 << 20, 4096, r, {key, "short"});
  std::vector<draft> d;
  p.feed(out_line(R"({"type":"tool_result","id":"t","output":"ANTHROPIC_API_KEY=)" + key + " again " + key + R"(","is_error":false})") +
             frame(2, "stderr has " + key + " too\n") + out_line("not json " + key), d);
  REQUIRE(d.size() == 3);
  for (const auto& e : d) {
    INFO(e.fields.dump());
    CHECK(e.fields.dump().find(key) == std::string::npos);
    CHECK(e.fields.dump().find("[REDACTED]") != std::string::npos);
  }
  CHECK(d[0].type == "tool_result");
  CHECK(d[0].fields["output"] == "ANTHROPIC_API_KEY=[REDACTED] again [REDACTED]");
  std::string text = "a short word";
  berth::runs::redact(text, {"short"});
  CHECK(text == "a short word");
}

TEST_CASE("output pump: a key written with JSON escapes is redacted once decoded") {
  const std::string key = "sk-ant-api03-abcdefghijklmnop";
  output_pump p(1 << 20, 4096, fresh(), {key});
  std::vector<draft> d;
  // "\u0073" is "s": the raw line does not contain the key, its decoded text does.
  p.feed(out_line(R"({"type":"text","text":"key: \u0073k-ant-api03-abcdefghijklmnop"})") +
             out_line(R"({"type":"tool_use","id":"t","name":"Bash","input":{"sk-ant-api03-abcdefghijklmnop":["\u0073k-ant-api03-abcdefghijklmnop"]}})"),
         d);
  REQUIRE(d.size() == 2);
  CHECK(d[0].fields["text"] == "key: [REDACTED]");
  CHECK(d[1].fields.dump().find(key) == std::string::npos);
  CHECK(d[1].fields["input"].contains("[REDACTED]"));
}

TEST_CASE("output pump: a line nested deeper than the bound becomes a log note - never a tree") {
  output_pump p(1 << 20, 1 << 20, fresh());
  std::vector<draft> d;
  const int depth = 100000;
  std::string deep = R"({"type":"text","text":"x","extra":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  REQUIRE(p.feed(out_line(deep) + out_line(R"({"type":"text","text":"after"})"), d));
  REQUIRE(d.size() == 2);
  CHECK(d[0].type == "log");
  CHECK(d[0].fields["problem"].get<std::string>().find("nested deeper") != std::string::npos);
  CHECK(d[1].type == "text");
  auto data = berth::event_data("R", d[0].fields);  // what the journal stores: copying and dumping must not recurse deeply
  CHECK(data.size() > static_cast<std::size_t>(2 * depth));
}

TEST_CASE("workspace guard: over the limit stops that user's runs - idle unused volumes expire") {
  using berth::docker::volume_usage;
  auto vol = [](std::string name, std::string user, std::int64_t size, std::int64_t refs) {
    volume_usage v;
    v.name = std::move(name);
    v.labels = {{"berth.user", std::move(user)}};
    v.size = size;
    v.ref_count = refs;
    return v;
  };
  std::vector<volume_usage> vols = {vol("ws-a", "a", 5000, 1), vol("ws-b", "b", 100, 1), vol("ws-c", "c", 9000, 0),
                                    vol("ws-d", "d", 10, 0), vol("ws-e", "e", 10, 1)};
  std::map<std::string, std::vector<std::string>> active = {{"a", {"R1", "R2"}}, {"b", {"R3"}}};
  std::map<std::string, std::int64_t> last = {{"c", 1000}, {"d", 95000}, {"e", 0}};
  auto act = decide_workspaces(vols, active, last, 100000, {.max_bytes = 1000, .idle_ms = 10000});
  REQUIRE(act.stop_runs.size() == 2);  // a's two runs; c is over the limit but has no run to stop
  CHECK(act.stop_runs[0] == std::pair<std::string, std::int64_t>{"R1", 5000});
  CHECK(act.remove_volumes == std::vector<std::string>{"ws-c"});  // d ran recently; e is mounted (a spare)
  auto none = decide_workspaces(vols, active, last, 100000, {});
  CHECK(none.stop_runs.empty());
  CHECK(none.remove_volumes.empty());
}
