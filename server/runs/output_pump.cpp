#include "server/runs/output_pump.hpp"

#include <algorithm>

namespace berth::runs {

void redact(std::string& text, const std::vector<std::string>& secrets) {
  if (secrets.empty()) return;
  static const std::string mark = "[REDACTED]";
  for (const auto& s : secrets) {
    if (s.size() < 8) continue;  // too short to be a credential; replacing it would mangle ordinary text
    for (auto at = text.find(s); at != std::string::npos; at = text.find(s, at + mark.size()))
      text.replace(at, s.size(), mark);
  }
}

output_pump::output_pump(std::int64_t max_output, std::size_t max_line, const store::run_record& r,
                         std::vector<std::string> secrets)
    : max_output_(max_output),
      secrets_(std::move(secrets)),
      out_(max_line, r.stdout_offset),
      err_(max_line, r.stderr_offset),
      skip_out_(r.stdout_offset),
      skip_err_(r.stderr_offset),
      output_bytes_(r.output_bytes),
      truncated_(r.truncated) {}

void redact(nlohmann::json& j, const std::vector<std::string>& secrets) {
  if (secrets.empty()) return;
  if (j.is_string()) {
    redact(j.get_ref<std::string&>(), secrets);
  } else if (j.is_array()) {
    for (auto& v : j) redact(v, secrets);
  } else if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string key = it.key();
      redact(key, secrets);
      redact(it.value(), secrets);
      out[key] = std::move(it.value());
    }
    j = std::move(out);
  }
}

void output_pump::take(std::string_view payload, std::int64_t& skip, line_splitter& split, bool is_stdout,
                       std::vector<draft>& out) {
  if (skip > 0) {
    auto n = std::min<std::int64_t>(skip, static_cast<std::int64_t>(payload.size()));
    payload.remove_prefix(static_cast<std::size_t>(n));
    skip -= n;
  }
  if (payload.empty()) return;
  std::vector<line> lines;
  split.feed(payload, lines);
  for (const auto& l : lines) on_line(is_stdout, l, out);
}

bool output_pump::feed(std::string_view data, std::vector<draft>& out) {
  return demux_.feed(data, [&](docker::stream_kind k, std::string_view payload) {
    switch (k) {
      case docker::stream_kind::out: take(payload, skip_out_, out_, true, out); break;
      case docker::stream_kind::err: take(payload, skip_err_, err_, false, out); break;
      case docker::stream_kind::system: out.push_back(log_draft("docker", std::string(payload))); break;
      case docker::stream_kind::in: break;
    }
  });
}

void output_pump::restart_stream() {
  demux_ = docker::stream_demuxer{};
  skip_out_ = out_.total();
  skip_err_ = err_.total();
}

void output_pump::finish(std::vector<draft>& out) {
  line l;
  if (out_.flush(l)) on_line(true, l, out);
  if (err_.flush(l)) on_line(false, l, out);
}

void output_pump::on_line(bool is_stdout, const line& raw, std::vector<draft>& out) {
  output_bytes_ += static_cast<std::int64_t>(raw.text.size()) + raw.dropped + 1;
  // Redacted after decoding: a key written with JSON escapes ("\u0073k-…") is only a key once decoded. The
  // translator's parse is depth-bounded, so the walk is too.
  draft d = is_stdout ? translate_stdout(raw) : translate_stderr(raw);
  redact(d.fields, secrets_);
  bool decisive = d.type == "result" || d.type == "error";
  if (d.type == "result") {
    facts_.saw_result = true;
    facts_.result_is_error = d.fields.value("is_error", false);
  } else if (d.type == "error") {
    facts_.error_kind = d.fields.value("kind", "");
    facts_.error_message = d.fields.value("message", "");
  }
  if (!truncated_ && output_bytes_ > max_output_) {
    truncated_ = true;
    draft note = log_draft("berthd", "output truncated: the worker printed more than " + std::to_string(max_output_) +
                                         " bytes; further output is discarded");
    note.fields["truncated"] = true;
    out.push_back(std::move(note));
  }
  if (truncated_) {
    if (decisive && after_truncation_ < max_events_after_truncation) {
      ++after_truncation_;
      out.push_back(std::move(d));
    }
    return;
  }
  out.push_back(std::move(d));
}

store::run_update output_pump::progress() const {
  store::run_update u;
  u.stdout_offset = out_.committed();
  u.stderr_offset = err_.committed();
  u.output_bytes = output_bytes_;
  u.truncated = truncated_;
  return u;
}

bool output_pump::progressed_since(const store::run_update& u) const {
  return u.stdout_offset != out_.committed() || u.stderr_offset != err_.committed();
}

}  // namespace berth::runs
