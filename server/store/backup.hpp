// Online backup of the SQLite database with SQLite's backup API: consistent while berthd keeps writing
// (`berthd --backup DEST`, used by scripts/backup inside the running container).
#pragma once
#include <string>

namespace berth::store {

// Copies the database at `source` to `dest` (created or replaced), page by page, retrying pages that a
// concurrent writer holds. Throws std::runtime_error with SQLite's message on failure.
void backup_database(const std::string& source, const std::string& dest);

}  // namespace berth::store
