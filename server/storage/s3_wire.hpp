// The S3 REST API's shapes berth uses, as pure functions: object and bucket URLs (path-style or virtual-hosted),
// the ListObjectsV2 query in canonical order (SigV4 signs the query as sent), the parts of a listing page and
// of an error document. Signing itself is libcurl's (CURLOPT_AWS_SIGV4); see s3_store.hpp.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace berth::storage {

struct s3_target {
  std::string endpoint;  // scheme://host[:port]
  std::string bucket;
  bool path_style = true;
};

// RFC 3986 unreserved characters kept, everything else %XX (upper case) — the encoding SigV4 canonicalises to.
std::string s3_uri_encode(std::string_view s, bool keep_slash);

std::string s3_bucket_url(const s3_target& t);                        // …/bucket (path-style) or bucket.host/
std::string s3_object_url(const s3_target& t, std::string_view key);  // key encoded, '/' kept

// ListObjectsV2 of keys under `prefix`, keys URL-encoded in the answer (encoding-type=url), parameters sorted.
std::string s3_list_query(std::string_view prefix, std::string_view continuation, int max_keys);

struct s3_list_page {
  std::vector<std::string> keys;  // decoded, in the order listed
  bool truncated = false;
  std::string next_continuation;
};
s3_list_page s3_parse_list(std::string_view xml);

// The text of the first <tag> element, XML entities decoded; empty when there is none.
std::string s3_xml_text(std::string_view xml, std::string_view tag);

// "HTTP 403 SignatureDoesNotMatch: The request signature …" from an error answer (body may be empty).
std::string s3_error_summary(long status, std::string_view body);

}  // namespace berth::storage
