#include "server/store/sql.hpp"

#include "common/strings.hpp"

namespace berth::store::sql {

const std::string& row::text(std::size_t i) const {
  static const std::string empty;
  const auto& c = cols_.at(i);
  return c ? *c : empty;
}

std::int64_t row::int64(std::size_t i) const { return opt_int64(i).value_or(0); }

std::optional<std::int64_t> row::opt_int64(std::size_t i) const {
  const auto& c = cols_.at(i);
  if (!c) return std::nullopt;
  auto v = parse_int(*c);
  if (!v) throw error("column " + std::to_string(i) + " is not an integer: " + c->substr(0, 40));
  return *v;
}

std::string numbered_placeholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  char quote = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += '$' + std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace berth::store::sql
