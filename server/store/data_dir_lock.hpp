// One berthd per data dir: two processes on one SQLite file and one queue corrupt each other's view (seq
// gaps, a wedged queue). An exclusive flock on <data dir>/berthd.lock, held for the process's life; the kernel
// drops it when the process dies, even by kill -9, so a crash never leaves a stale lock behind.
#pragma once
#include <string>

namespace berth::store {

class data_dir_lock {
 public:
  // Throws std::runtime_error naming the holder's pid when another process holds the lock.
  explicit data_dir_lock(const std::string& dir);
  ~data_dir_lock();
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace berth::store
