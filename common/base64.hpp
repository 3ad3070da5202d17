// Base64 (standard alphabet, padded) of some bytes, through Boost.Beast's encoder. Header-only: a target that
// includes it links Boost::headers.
#pragma once
#include <string>
#include <string_view>

#include <boost/beast/core/detail/base64.hpp>

namespace berth {

inline std::string base64_encode(std::string_view data) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(b64::encoded_size(data.size()), '\0');
  out.resize(b64::encode(out.data(), data.data(), data.size()));
  return out;
}

// The bytes of padded standard base64; decoding stops at the first character outside the alphabet.
inline std::string base64_decode(std::string_view text) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(b64::decoded_size(text.size()), '\0');
  out.resize(b64::decode(out.data(), text.data(), text.size()).first);
  return out;
}

}  // namespace berth
