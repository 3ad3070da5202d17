#include "server/storage/s3_store.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "server/storage/bundles.hpp"

namespace berth::storage {
namespace {
constexpr long connect_timeout_s = 5;
constexpr int max_list_pages = 10'000;  // a listing that never ends (a broken or hostile endpoint) is an error

bool is_loopback(const std::string& endpoint) {
  const auto at = endpoint.find("://");
  const std::string host = at == std::string::npos ? endpoint : endpoint.substr(at + 3);
  return host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]");
}

struct receive {
  std::string* body;
  bool too_big = false;
};

std::size_t on_body(char* p, std::size_t size, std::size_t n, void* user) {
  auto* r = static_cast<receive*>(user);
  if (r->body->size() + size * n > s3_store::max_object_bytes) {
    r->too_big = true;
    return 0;  // aborts the transfer
  }
  r->body->append(p, size * n);
  return size * n;
}

std::size_t on_header(char* p, std::size_t size, std::size_t n, void* user) {
  std::string_view line(p, size * n);
  auto* etag = static_cast<std::string*>(user);
  if (line.size() > 5) {
    std::string name(line.substr(0, 5));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "etag:") {
      auto v = line.substr(5);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      *etag = std::string(v);
    }
  }
  return size * n;
}

struct curl_deleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct slist_deleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

bool credentials_refused(const std::string& code) {
  return code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" || code == "AccessDenied" ||
         code == "InvalidSecurity" || code == "AuthorizationHeaderMalformed";
}
}  // namespace

s3_store::s3_store(const config& c, int page_keys)
    : target_{c.s3_endpoint, c.s3_bucket, c.s3_path_style},
      prefix_(c.s3_prefix),
      region_(c.s3_region),
      key_id_(c.s3_access_key_id),
      secret_(c.s3_secret_access_key),
      timeout_s_(c.s3_timeout_s),
      loopback_(is_loopback(c.s3_endpoint)),
      page_keys_(page_keys) {
  static std::once_flag once;  // before any handle; berthd makes its store before its threads
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string s3_store::describe() const {
  return "s3://" + target_.bucket + (prefix_.empty() ? "" : "/" + prefix_) + " at " + target_.endpoint;
}

s3_store::answer s3_store::call(const char* method, const std::string& url, std::string_view body,
                                const std::string& if_none_match) const {
  answer a;
  std::unique_ptr<CURL, curl_deleter> h(curl_easy_init());
  if (!h) {
    a.error = "libcurl could not make a handle";
    return a;
  }
  CURL* c = h.get();
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string sigv4 = "aws:amz:" + region_ + ":s3";
  receive r{&a.body};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s_);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERNAME, key_id_.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, secret_.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &a.etag);
  if (loopback_) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  const std::string m(method);
  if (m == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (m == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  }
  // S3 wants the payload's hash as a signed header; libcurl signs the headers it is given.
  std::unique_ptr<curl_slist, slist_deleter> headers;
  auto add = [&](const std::string& line) { headers.reset(curl_slist_append(headers.release(), line.c_str())); };
  add("x-amz-content-sha256: " + sha256_hex(body));
  if (m == "PUT") add("Content-Type: application/octet-stream");
  // No "Expect:" line to suppress 100-continue: libcurl 7.88 signs that removal as an empty header it never
  // sends, and S3 then refuses the signature (measured against Swift's s3api).
  if (!if_none_match.empty()) add("If-None-Match: " + if_none_match);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  const CURLcode rc = curl_easy_perform(c);
  if (r.too_big) {
    a.error = "an object larger than " + std::to_string(max_object_bytes) + " bytes";
    return a;
  }
  if (rc != CURLE_OK) {
    a.error = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(" (") + errbuf + ")" : "");
    return a;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  return a;
}

void s3_store::fail(const std::string& what, const answer& a) const {
  if (a.status == 0) throw storage_error("S3 at " + target_.endpoint + " could not " + what + ": " + a.error);
  const std::string said = s3_error_summary(a.status, a.body), code = s3_xml_text(a.body, "Code");
  if (credentials_refused(code) || (a.status == 403 && code.empty()))
    throw storage_error("S3 at " + target_.endpoint + " refused berth's credentials for bucket " + target_.bucket + " (" +
                        said + "): check BERTH_S3_ACCESS_KEY_ID, BERTH_S3_SECRET_ACCESS_KEY and BERTH_S3_REGION");
  if (code == "NoSuchBucket")
    throw storage_error("S3 at " + target_.endpoint + " has no bucket " + target_.bucket + " (create it first)");
  throw storage_error("S3 at " + target_.endpoint + " could not " + what + " (" + said + ")");
}

void s3_store::put(const std::string& key, std::string_view data) {
  auto a = call("PUT", s3_object_url(target_, full_key(key)), data);
  if (a.status != 200) fail("store " + key, a);
  std::lock_guard lock(m_);
  if (auto it = cache_.find(key); it != cache_.end()) {
    cache_bytes_ -= it->second.data.size();
    cache_.erase(it);
  }
}

std::optional<std::string> s3_store::get(const std::string& key) {
  std::string etag;
  {
    std::lock_guard lock(m_);
    if (auto it = cache_.find(key); it != cache_.end()) etag = it->second.etag;
  }
  auto a = call("GET", s3_object_url(target_, full_key(key)), {}, etag);
  std::lock_guard lock(m_);
  auto it = cache_.find(key);
  if (a.status == 304 && it != cache_.end() && it->second.etag == etag) return it->second.data;
  if (it != cache_.end()) {
    cache_bytes_ -= it->second.data.size();
    cache_.erase(it);
  }
  if (a.status == 404 && s3_xml_text(a.body, "Code") != "NoSuchBucket") return std::nullopt;
  if (a.status != 200) fail("read " + key, a);
  if (!a.etag.empty() && a.body.size() <= cache_max_bytes) {
    if (cache_bytes_ + a.body.size() > cache_max_bytes) {
      cache_.clear();
      cache_bytes_ = 0;
    }
    cache_bytes_ += a.body.size();
    cache_[key] = {a.etag, a.body};
  }
  return std::move(a.body);
}

bool s3_store::remove(const std::string& key) {
  // S3 answers 204 whether or not the key existed: ask first, so the caller's 404 stays truthful.
  auto head = call("HEAD", s3_object_url(target_, full_key(key)), {});
  if (head.status == 404) return false;
  if (head.status != 200) fail("look up " + key, head);
  auto a = call("DELETE", s3_object_url(target_, full_key(key)), {});
  if (a.status != 204 && a.status != 200 && a.status != 404) fail("remove " + key, a);
  std::lock_guard lock(m_);
  if (auto it = cache_.find(key); it != cache_.end()) {
    cache_bytes_ -= it->second.data.size();
    cache_.erase(it);
  }
  return a.status != 404;
}

std::vector<std::string> s3_store::list(const std::string& prefix) {
  std::vector<std::string> out;
  const std::string strip = prefix_.empty() ? "" : prefix_ + "/";
  std::string token;
  int pages = 0;
  do {
    if (++pages > max_list_pages)
      throw storage_error("S3 at " + target_.endpoint + " kept a listing of " + prefix + " going past " +
                          std::to_string(max_list_pages) + " pages");
    auto a = call("GET", s3_bucket_url(target_) + "?" + s3_list_query(strip + prefix, token, page_keys_), {});
    if (a.status != 200) fail("list " + prefix, a);
    auto page = s3_parse_list(a.body);
    for (auto& k : page.keys)
      if (k.starts_with(strip + prefix)) out.push_back(k.substr(strip.size()));
    if (page.truncated && page.next_continuation.empty())
      throw storage_error("S3 at " + target_.endpoint + " sent a truncated listing without a continuation token");
    token = page.truncated ? page.next_continuation : "";
  } while (!token.empty());
  std::sort(out.begin(), out.end());
  return out;
}

void s3_store::check() {
  auto a = call("GET", s3_bucket_url(target_) + "?" + s3_list_query(prefix_, "", 1), {});
  if (a.status != 200) fail("list bucket " + target_.bucket, a);
}

void s3_store::create_bucket() {
  auto a = call("PUT", s3_bucket_url(target_), {});
  if (a.status == 200 || s3_xml_text(a.body, "Code") == "BucketAlreadyOwnedByYou") return;
  fail("create bucket " + target_.bucket, a);
}

}  // namespace berth::storage
