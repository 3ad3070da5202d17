// Turns a worker's raw multiplexed output into event drafts, with every bound applied: the line length
// limit, the per-run output limit (past it one `log` event says so and further output is dropped, except the
// worker's `result`/`error`, which decide the run's status), and resumption: bytes of each stream already
// turned into stored events (the offsets in the run row) are skipped, so replaying a container's logs after a
// restart yields only what was not yet stored. Pure: no I/O, no clock.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "server/docker/stream_demuxer.hpp"
#include "server/runs/exit_classifier.hpp"
#include "server/runs/line_splitter.hpp"
#include "server/runs/output_translator.hpp"
#include "server/store/store.hpp"

namespace berth::runs {

inline constexpr int max_events_after_truncation = 16;

// Replaces each occurrence of each secret (8 bytes or longer) in `text` with [REDACTED].
void redact(std::string& text, const std::vector<std::string>& secrets);
// The same in every string (and object key) of a decoded value.
void redact(nlohmann::json& j, const std::vector<std::string>& secrets);

class output_pump {
 public:
  // `secrets`: values (the engine's credentials) replaced by [REDACTED] in every line before it becomes an
  // event, so an agent that prints its environment cannot put a key into the store, the logs or a stream.
  output_pump(std::int64_t max_output, std::size_t max_line, const store::run_record& resume_from,
              std::vector<std::string> secrets = {});
  // Appends the drafts for complete lines in `data`. Returns false if the stream is corrupt.
  bool feed(std::string_view data, std::vector<draft>& out);
  // The same output is read again from its first byte (a second request for a Swarm service's logs): what
  // was already received is skipped, so only what lies past it is fed on.
  void restart_stream();
  // End of stream: unterminated last lines become events too.
  void finish(std::vector<draft>& out);
  // Offsets and counters to store with the drafts of the same feed.
  store::run_update progress() const;
  bool progressed_since(const store::run_update& u) const;
  // What the worker said about its own outcome (also restored from stored events after a restart).
  exit_facts& facts() { return facts_; }

 private:
  void on_line(bool is_stdout, const line& l, std::vector<draft>& out);
  void take(std::string_view payload, std::int64_t& skip, line_splitter& split, bool is_stdout, std::vector<draft>& out);

  std::int64_t max_output_;
  std::vector<std::string> secrets_;
  docker::stream_demuxer demux_;
  line_splitter out_, err_;
  std::int64_t skip_out_, skip_err_;
  std::int64_t output_bytes_;
  bool truncated_;
  int after_truncation_ = 0;
  exit_facts facts_;
};

}  // namespace berth::runs
