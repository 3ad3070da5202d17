// ustar archives: what Docker's archive API (PUT /containers/{id}/archive) takes, and what users upload their
// skills as (after gunzip). Pure.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::docker {

std::string tar_single_file(std::string_view name, std::string_view content, unsigned mode = 0444);

struct tar_entry {
  std::string path;     // relative, '/'-separated; a directory's without a trailing slash
  std::string content;  // empty for a directory
  unsigned mode = 0444;
  bool directory = false;
};

// The entries in the order given; paths up to 255 bytes (ustar's prefix + name), `mtime` on every entry (a
// fixed one makes the archive a function of its contents).
std::string tar_files(const std::vector<tar_entry>& entries, std::int64_t mtime);

// One member as the archive states it: `type` is ustar's typeflag ('0' file, '5' directory, '1' hard link,
// '2' symlink, '3'/'4' devices, '6' fifo, …). GNU long names ('L') and pax `path` records ('x') name the
// member that follows; global pax headers ('g') are skipped.
struct tar_member {
  std::string path;
  char type = '0';
  unsigned mode = 0;
  std::string content;  // regular files only
};

// Reads every member; false with `why` on a malformed archive, or when the contents would exceed
// `max_total_bytes` or `max_members`.
bool read_tar(std::string_view archive, std::size_t max_total_bytes, std::size_t max_members,
              std::vector<tar_member>& out, std::string& why);

}  // namespace berth::docker
