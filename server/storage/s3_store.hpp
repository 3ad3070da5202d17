// BERTH_STORAGE=s3://bucket/prefix: objects in an S3 bucket under `prefix/`, through libcurl (Debian's
// libcurl signs with AWS Signature Version 4: CURLOPT_AWS_SIGV4; key id and secret are passed apart, so an
// access key with a colon — Swift's "account:user" — works). Debian's libs3 (2.0) signs only with the retired
// version 2, which AWS regions opened since 2014 refuse; see docs/architecture.md.
//
// Every call is one request on its own handle (thread-safe; objects are small and few). Reads are cached by
// key and ETag (the content's MD5 for a simple PUT) and revalidated with If-None-Match, so a run's set costs
// a 304 per object, not its bytes, yet another instance's upload is seen at once. Loopback endpoints bypass
// any proxy; others follow libcurl's https_proxy / no_proxy. A failure throws storage_error naming what S3
// said (never the secret).
#pragma once
#include <map>
#include <mutex>

#include "common/config.hpp"
#include "server/storage/file_store.hpp"
#include "server/storage/s3_wire.hpp"

namespace berth::storage {

class s3_store : public file_store {
 public:
  // No request yet. `page_keys`: keys per listing request (S3's maximum, 1000; tests use fewer).
  explicit s3_store(const config& c, int page_keys = 1000);
  void put(const std::string& key, std::string_view data) override;
  std::optional<std::string> get(const std::string& key) override;
  bool remove(const std::string& key) override;
  std::vector<std::string> list(const std::string& prefix) override;
  std::string describe() const override;
  // One signed listing of the bucket: wrong credentials, a missing bucket or an unreachable endpoint throw here,
  // at start, with the reason.
  void check() override;
  // For setup tooling and tests: create the bucket (an existing one of ours is fine).
  void create_bucket();

  static constexpr std::size_t max_object_bytes = 256u << 20;  // larger than any limit a stored file can have
  static constexpr std::size_t cache_max_bytes = 64u << 20;    // dropped whole when full; refilled on demand

  struct answer {
    long status = 0;  // 0: no HTTP answer (see error)
    std::string body;
    std::string etag;
    std::string error;  // transport failure
  };

 private:
  answer call(const char* method, const std::string& url, std::string_view body, const std::string& if_none_match = {}) const;
  std::string full_key(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "/" + key; }
  [[noreturn]] void fail(const std::string& what, const answer& a) const;

  s3_target target_;
  std::string prefix_;
  std::string region_;
  std::string key_id_;
  std::string secret_;
  long timeout_s_;
  bool loopback_;
  int page_keys_;

  struct cached {
    std::string etag;
    std::string data;
  };
  std::mutex m_;
  std::map<std::string, cached> cache_;
  std::size_t cache_bytes_ = 0;
};

}  // namespace berth::storage
