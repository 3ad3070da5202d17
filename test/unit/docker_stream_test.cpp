#include <catch2/catch.hpp>

#include "frames.hpp"
#include "server/docker/stream_demuxer.hpp"
#include "server/docker/unix_http.hpp"

using berth::docker::chunked_decoder;
using berth::docker::stream_demuxer;
using berth::docker::stream_kind;

namespace {
struct collected {
  std::string out, err, sys;
};

collected feed_split(const std::string& bytes, std::size_t cut) {
  stream_demuxer d;
  collected c;
  auto sink = [&](stream_kind k, std::string_view p) {
    (k == stream_kind::out ? c.out : k == stream_kind::err ? c.err : c.sys).append(p);
  };
  REQUIRE(d.feed(std::string_view(bytes).substr(0, cut), sink));
  REQUIRE(d.feed(std::string_view(bytes).substr(cut), sink));
  CHECK_FALSE(d.mid_frame());
  return c;
}
}  // namespace

TEST_CASE("demuxer: interleaved stdout/stderr split at every byte offset") {
  std::string bytes = frame(1, "hello ") + frame(2, "oops\n") + frame(1, "world\n") + frame(3, "boom") + frame(1, "");
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    auto c = feed_split(bytes, cut);
    REQUIRE(c.out == "hello world\n");
    REQUIRE(c.err == "oops\n");
    REQUIRE(c.sys == "boom");
  }
}

TEST_CASE("demuxer: one byte at a time") {
  std::string bytes = frame(1, "abc") + frame(2, "de");
  stream_demuxer d;
  std::string out, err;
  for (char ch : bytes)
    REQUIRE(d.feed(std::string_view(&ch, 1), [&](stream_kind k, std::string_view p) { (k == stream_kind::out ? out : err).append(p); }));
  CHECK(out == "abc");
  CHECK(err == "de");
}

TEST_CASE("demuxer: frames around 16 and 64 KiB - split at awkward offsets") {
  for (std::size_t size : {16383u, 16384u, 16385u, 65535u, 65536u, 65537u}) {
    std::string payload(size, 'x');
    for (std::size_t i = 0; i < size; i += 97) payload[i] = static_cast<char>('a' + i % 26);
    std::string bytes = frame(1, payload) + frame(2, payload.substr(0, 100));
    for (std::size_t cut : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}, size / 2, size + 7, size + 8, size + 9, bytes.size() - 1}) {
      auto c = feed_split(bytes, cut);
      REQUIRE(c.out == payload);
      REQUIRE(c.err == payload.substr(0, 100));
    }
  }
}

TEST_CASE("demuxer: an unknown stream type marks the stream corrupt") {
  stream_demuxer d;
  std::string bad = frame(7, "x");
  CHECK_FALSE(d.feed(bad, [](stream_kind, std::string_view) {}));
}

TEST_CASE("chunked decoder: split at every offset") {
  std::string body = "5\r\nhello\r\n1;ext=1\r\n \r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    chunked_decoder d;
    std::string out;
    REQUIRE(d.feed(std::string_view(body).substr(0, cut), out));
    REQUIRE(d.feed(std::string_view(body).substr(cut), out));
    REQUIRE(out == "hello 0123456789abcdef");
    REQUIRE(d.done());
  }
}

TEST_CASE("chunked decoder: rejects garbage") {
  chunked_decoder d;
  std::string out;
  CHECK_FALSE(d.feed("zz\r\n", out));
  chunked_decoder d2;
  CHECK_FALSE(d2.feed("3\r\nabcX", out));
}
