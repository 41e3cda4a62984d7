#pragma once

// Plumbing for the processes a monitor starts: they inherit fds 0-2 from
// the monitor at create or exec time, so the monitor points its own stdio
// at their pipes for that moment.

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth {

struct Pipe {
  UniqueFd read, write;
};

// Both ends close-on-exec.
absl::StatusOr<Pipe> MakePipe();

// While alive, fds 0-2 are `in`, `out` and `err` (-1: /dev/null); the
// previous ones come back on destruction. Single-threaded callers only.
class ScopedStdio {
 public:
  ScopedStdio(int in, int out, int err);
  ~ScopedStdio();
  ScopedStdio(const ScopedStdio&) = delete;
  ScopedStdio& operator=(const ScopedStdio&) = delete;

 private:
  UniqueFd saved_[3];
};

// Marks `fd` O_NONBLOCK.
void SetNonBlocking(int fd);

}  // namespace berth
