#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/container.h"
#include "runtime/oci/spec.h"

namespace berth {

struct ExecOptions {
  oci::Process process;
  bool detach = false;
  std::string pid_file;
  std::string console_socket;  // for process.terminal
  int preserve_fds = 0;
};

// Runs `options.process` inside a running container: its namespaces, its
// cgroup, its seccomp profile. While our code still runs inside the
// container the process is non-dumpable, so nothing in the container can
// open /proc/<pid>/exe (our binary on the host) through it. Returns the
// process's exit code (128 + signal), or 0 at once when detached.
absl::StatusOr<int> ExecInContainer(const RuntimeOptions& runtime, const std::string& id,
                                    const ExecOptions& options);

}  // namespace berth
