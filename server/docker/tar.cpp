#include "server/docker/tar.hpp"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace berth::docker {

namespace {
constexpr std::size_t block = 512;

// Zero-padded octal in width-1 digits plus NUL, as ustar wants.
void octal(char* field, std::size_t width, unsigned long long v) {
  field[width - 1] = '\0';
  for (std::size_t i = width - 1; i-- > 0; v >>= 3) field[i] = static_cast<char>('0' + (v & 7));
}

// ustar keeps up to 100 bytes in `name` and 155 more in `prefix`, split at a '/'.
void set_path(char* h, std::string_view path) {
  if (path.size() <= 100) {
    std::memcpy(h, path.data(), path.size());
    return;
  }
  for (auto slash = path.rfind('/'); slash != std::string_view::npos && slash > 0; slash = path.rfind('/', slash - 1)) {
    if (slash <= 155 && path.size() - slash - 1 <= 100 && path.size() - slash - 1 > 0) {
      std::memcpy(h + 345, path.data(), slash);
      std::memcpy(h, path.data() + slash + 1, path.size() - slash - 1);
      return;
    }
    if (slash == 0) break;
  }
  throw std::invalid_argument("tar: path too long for ustar: " + std::string(path.substr(0, 80)));
}

void append_member(std::string& out, std::string_view path, std::string_view content, unsigned mode, char type,
                   std::int64_t mtime) {
  if (path.empty()) throw std::invalid_argument("tar: empty path");
  char h[block] = {};
  set_path(h, path);
  octal(h + 100, 8, mode);
  octal(h + 108, 8, 0);  // uid
  octal(h + 116, 8, 0);  // gid
  octal(h + 124, 12, content.size());
  octal(h + 136, 12, static_cast<unsigned long long>(mtime));
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  octal(h + 148, 7, sum);  // six digits, NUL, then the space already there
  out.append(h, block);
  out.append(content);
  out.append((block - content.size() % block) % block, '\0');
}

// A numeric field: octal digits, spaces and NULs around them.
bool parse_octal(const char* f, std::size_t width, unsigned long long& v) {
  v = 0;
  std::size_t i = 0;
  while (i < width && (f[i] == ' ' || f[i] == '\0')) ++i;
  for (; i < width && f[i] >= '0' && f[i] <= '7'; ++i) {
    if (v >> 60) return false;
    v = v * 8 + static_cast<unsigned>(f[i] - '0');
  }
  for (; i < width; ++i)
    if (f[i] != ' ' && f[i] != '\0') return false;
  return true;  // all blanks: 0
}

std::string field(const char* f, std::size_t width) { return std::string(f, strnlen(f, width)); }

// The `path` record of a pax extended header ("<len> path=<value>\n" records).
std::string pax_path(std::string_view records) {
  while (!records.empty()) {
    auto space = records.find(' ');
    if (space == std::string_view::npos) break;
    unsigned long long len = 0;
    for (char c : records.substr(0, space)) {
      if (c < '0' || c > '9') return {};
      len = len * 10 + static_cast<unsigned>(c - '0');
    }
    if (len <= space + 1 || len > records.size()) return {};
    auto rec = records.substr(space + 1, len - space - 1);
    if (!rec.empty() && rec.back() == '\n') rec.remove_suffix(1);
    if (rec.starts_with("path=")) return std::string(rec.substr(5));
    records.remove_prefix(len);
  }
  return {};
}
}  // namespace

std::string tar_single_file(std::string_view name, std::string_view content, unsigned mode) {
  if (name.empty() || name.size() >= 100) throw std::invalid_argument("tar: name must be 1-99 bytes");
  std::string out;
  append_member(out, name, content, mode, '0', static_cast<std::int64_t>(std::time(nullptr)));
  out.append(2 * block, '\0');
  return out;
}

std::string tar_files(const std::vector<tar_entry>& entries, std::int64_t mtime) {
  std::string out;
  for (const auto& e : entries) append_member(out, e.path, e.directory ? std::string_view() : e.content, e.mode, e.directory ? '5' : '0', mtime);
  out.append(2 * block, '\0');
  return out;
}

bool read_tar(std::string_view a, std::size_t max_total_bytes, std::size_t max_members, std::vector<tar_member>& out,
              std::string& why) {
  std::size_t pos = 0, total = 0;
  std::string next_path;  // from a GNU long name or a pax header, for the member that follows
  while (true) {
    if (pos + block > a.size()) {
      why = "the archive ends inside a header";
      return false;
    }
    const char* h = a.data() + pos;
    bool zero = true;
    for (std::size_t i = 0; i < block && zero; ++i) zero = h[i] == '\0';
    if (zero) return true;  // the end-of-archive blocks
    unsigned long long size = 0, mode = 0, sum = 0;
    if (!parse_octal(h + 124, 12, size) || !parse_octal(h + 100, 8, mode) || !parse_octal(h + 148, 8, sum)) {
      why = "a header has a malformed number";
      return false;
    }
    unsigned computed = 0;
    for (std::size_t i = 0; i < block; ++i) computed += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    if (computed != sum) {
      why = "a header's checksum is wrong";
      return false;
    }
    const char type = h[156] == '\0' ? '0' : h[156];
    pos += block;
    if (size > a.size() - pos) {
      why = "the archive ends inside a member";
      return false;
    }
    std::string_view body = a.substr(pos, size);
    pos += (size + block - 1) / block * block;
    if (type == 'L') {  // GNU long name
      next_path = std::string(body.substr(0, strnlen(body.data(), body.size())));
      continue;
    }
    if (type == 'x') {
      next_path = pax_path(body);
      continue;
    }
    if (type == 'g') continue;
    if (out.size() >= max_members) {
      why = "the archive has more than " + std::to_string(max_members) + " members";
      return false;
    }
    total += size;
    if (total > max_total_bytes) {
      why = "the archive's contents exceed " + std::to_string(max_total_bytes) + " bytes";
      return false;
    }
    tar_member m;
    if (!next_path.empty()) m.path = std::move(next_path);
    else {
      auto prefix = field(h + 345, 155), name = field(h, 100);
      m.path = prefix.empty() ? name : prefix + "/" + name;
    }
    next_path.clear();
    m.type = type;
    m.mode = static_cast<unsigned>(mode & 07777);
    if (type == '0' || type == '7') m.content = std::string(body);
    out.push_back(std::move(m));
  }
}

}  // namespace berth::docker
