#include "server/storage/s3_wire.hpp"

#include <utility>

namespace berth::storage {
namespace {
bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
         c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// encoding-type=url answers: %XX, and '+' for a space as AWS writes it (berth's own keys contain neither).
std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::string xml_decode(std::string_view s) {
  static constexpr std::pair<std::string_view, char> entities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool replaced = false;
    if (s[i] == '&')
      for (const auto& [name, c] : entities)
        if (s.substr(i, name.size()) == name) {
          out += c;
          i += name.size();
          replaced = true;
          break;
        }
    if (!replaced) out += s[i++];
  }
  return out;
}

// Each element <tag>text</tag> in order; `from` advances past it.
bool next_element(std::string_view xml, std::string_view tag, std::size_t& from, std::string_view& text) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  const auto a = xml.find(open, from);
  if (a == std::string_view::npos) return false;
  const auto b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return false;
  text = xml.substr(a + open.size(), b - a - open.size());
  from = b + close.size();
  return true;
}

std::string host_of(std::string_view endpoint, std::string& scheme) {
  const auto at = endpoint.find("://");
  scheme = at == std::string_view::npos ? "https" : std::string(endpoint.substr(0, at));
  return std::string(at == std::string_view::npos ? endpoint : endpoint.substr(at + 3));
}
}  // namespace

std::string s3_uri_encode(std::string_view s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  }
  return out;
}

std::string s3_bucket_url(const s3_target& t) {
  if (t.path_style) return t.endpoint + "/" + t.bucket;
  std::string scheme;
  const auto host = host_of(t.endpoint, scheme);
  return scheme + "://" + t.bucket + "." + host + "/";
}

std::string s3_object_url(const s3_target& t, std::string_view key) {
  const std::string base = s3_bucket_url(t);
  return base + (base.ends_with('/') ? "" : "/") + s3_uri_encode(key, true);
}

std::string s3_list_query(std::string_view prefix, std::string_view continuation, int max_keys) {
  std::string q;
  if (!continuation.empty()) q += "continuation-token=" + s3_uri_encode(continuation, false) + "&";
  q += "encoding-type=url&list-type=2&max-keys=" + std::to_string(max_keys);
  q += "&prefix=" + s3_uri_encode(prefix, false);
  return q;
}

s3_list_page s3_parse_list(std::string_view xml) {
  s3_list_page page;
  std::size_t at = 0;
  std::string_view contents;
  while (next_element(xml, "Contents", at, contents)) {
    std::size_t k = 0;
    std::string_view key;
    if (next_element(contents, "Key", k, key)) page.keys.push_back(url_decode(xml_decode(key)));
  }
  page.truncated = s3_xml_text(xml, "IsTruncated") == "true";
  page.next_continuation = s3_xml_text(xml, "NextContinuationToken");
  return page;
}

std::string s3_xml_text(std::string_view xml, std::string_view tag) {
  std::size_t at = 0;
  std::string_view text;
  return next_element(xml, tag, at, text) ? xml_decode(text) : std::string();
}

std::string s3_error_summary(long status, std::string_view body) {
  std::string out = "HTTP " + std::to_string(status);
  const auto code = s3_xml_text(body, "Code");
  auto message = s3_xml_text(body, "Message");
  if (message.size() > 300) message = message.substr(0, 300) + "…";
  if (!code.empty()) out += " " + code;
  if (!message.empty()) out += ": " + message;
  return out;
}

}  // namespace berth::storage
