// Where the gateway sends model requests (ANTHROPIC_BASE_URL, default the real API over TLS), and how a
// worker's request is rewritten for it. Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>

namespace berth::gateway {

struct upstream {
  bool tls = true;
  std::string host = "api.anthropic.com";
  std::string port = "443";
  std::string prefix;  // a path the base URL carries, without a trailing slash
};

std::optional<upstream> parse_upstream(std::string_view base_url);  // empty: the default

// POST /v1/messages and POST /v1/messages/count_tokens (any query): the Messages API family.
bool is_model_api(std::string_view method, std::string_view target);

// The token a worker's CLI presents: `x-api-key`, or `Authorization: Bearer` (OAuth mode).
std::string presented_token(const boost::beast::http::fields& f);

// The worker's headers made fit for upstream: its token, hop-by-hop and proxy headers and any encoding
// request removed (answers are metered, so they come uncompressed), Host set, the real credential added
// (`x-api-key` for an API key, `Authorization: Bearer` for an OAuth token).
void rewrite_for_upstream(boost::beast::http::fields& f, const upstream& u, const std::string& api_key,
                          const std::string& oauth_token);

// The same for a git request to GitHub's git host: the worker's headers cleaned as above except that an
// encoding request stays (git's answers are relayed, not metered), and GitHub's token added as Basic auth.
void rewrite_for_git(boost::beast::http::fields& f, const upstream& u, const std::string& github_token);

}  // namespace berth::gateway
