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
  int console_fd = -1;         // or an already-connected console socket
  int preserve_fds = 0;
};

// Runs `options.process` inside a running container: its namespaces, its
// cgroup, its seccomp profile. While our code still runs inside the
// container the process is non-dumpable, so nothing in the container can
// open /proc/<pid>/exe (our binary on the host) through it. Returns the
// process's exit code (128 + signal), or 0 at once when detached.
absl::StatusOr<int> ExecInContainer(const RuntimeOptions& runtime, const std::string& id,
                                    const ExecOptions& options);

// Starts the process and returns its pid once it has exec'd (`detach` is
// ignored). Its parent exits at once, so the caller must be a child
// subreaper to wait for it.
absl::StatusOr<pid_t> StartExecInContainer(const RuntimeOptions& runtime, const std::string& id,
                                           const ExecOptions& options);

}  // namespace berth
