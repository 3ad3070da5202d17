#include "server/store/backup.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/Database.h>
#include <sqlite3.h>

namespace berth::store {

void backup_database(const std::string& source, const std::string& dest) {
  try {
    SQLite::Database src(source, SQLite::OPEN_READONLY);
    SQLite::Database dst(dest, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    SQLite::Backup b(dst, src);
    for (;;) {
      int rc = b.executeStep(256);  // 256 pages per step: a writer is never blocked for long
      if (rc == SQLITE_DONE) break;
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (const SQLite::Exception& e) {
    throw std::runtime_error("backup of " + source + " to " + dest + " failed: " + e.what());
  }
}

}  // namespace berth::store
