#pragma once

#include <sys/types.h>

#include "absl/status/statusor.h"

namespace berth {

// A foreground `run` or `exec` passes the signals it receives on to the
// container process, as runc does, so `kill <berth-runtime pid>` reaches
// the container. Block() must come before the container process is forked,
// so no signal is lost in between; WaitForwarding() then forwards until
// `pid` exits and returns its exit code (128 + signal when killed).
class SignalForwarder {
 public:
  static absl::Status Block();
  static absl::StatusOr<int> WaitForwarding(pid_t pid);
};

// Restores default dispositions and an empty signal mask: both survive
// execve, and the user program must not inherit the runtime's.
void ResetSignalsForExec();

}  // namespace berth
