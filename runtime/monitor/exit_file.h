#pragma once

// How a container ended, written by its monitor when the container's init
// exits. It is the single source of truth berthd reads, also after a
// restart, so it is written atomically and read strictly.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth {

struct ExitRecord {
  int exit_code = 0;  // the shell convention: 128 + signal when killed
  int signal = 0;     // the killing signal, 0 if it exited
  bool oom_killed = false;
  absl::Time finished_at;
  std::string reason;  // "OOMKilled", "Error", "Completed", as kubelet shows them

  bool operator==(const ExitRecord&) const = default;
};

absl::Status WriteExitFile(const std::string& path, const ExitRecord& record);
// NotFound while the container has not exited.
absl::StatusOr<ExitRecord> ReadExitFile(const std::string& path);

}  // namespace berth
