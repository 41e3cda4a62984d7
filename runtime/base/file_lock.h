#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth {

// An exclusive advisory lock (flock) on a file, held for the object's
// lifetime. The kernel drops it when the holder dies, so a crash never leaves
// a stale lock behind. The holder's pid is written into the file so a
// refused process can say who holds it.
class FileLock {
 public:
  // Takes the lock without waiting. FailedPrecondition names the holder's pid
  // when another process has it.
  static absl::StatusOr<FileLock> TryAcquire(const std::string& path);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

  const std::string& path() const { return path_; }

 private:
  FileLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::string path_;
  UniqueFd fd_;
};

}  // namespace berth
