#pragma once

// The OCI runtime a monitor drives for its one container: the in-tree
// executor linked into the monitor (executor_runtime.h), or another runtime
// with runc's command line for RuntimeClass handlers (external_runtime.h).
// The monitor does the rest (stdio, log, attach, exit file) the same way for
// both.

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/monitor/monitor_config.h"

namespace berth {

// The container's fds 0-2 for the life of its init; -1 is /dev/null.
struct ContainerStdio {
  int in = -1;
  int out = -1;
  int err = -1;
};

struct CreatedContainer {
  pid_t init_pid = 0;
  // The cgroup whose OOM kills are the container's (its memory controller's
  // path on cgroup v1).
  std::string cgroup_path;
};

class OciRuntime {
 public:
  virtual ~OciRuntime() = default;

  // Creates the container of the monitor's config: its init holds `stdio`
  // and, with a terminal, has sent its pty master to config.console_socket()
  // before this returns. The init is our child or, its parent having exited,
  // reparented to us (the monitor is a child subreaper). On failure nothing
  // is left behind.
  virtual absl::StatusOr<CreatedContainer> Create(const ContainerStdio& stdio) = 0;
  // Lets the created container's init exec its program.
  virtual absl::Status Start() = 0;
  // Kills and removes the container whatever its state; for a setup that
  // failed after Create.
  virtual absl::Status ForceDelete() = 0;
};

// The executor for `config`: config.runtime_binary, or the in-tree one when
// it is empty. `config` must outlive the result.
absl::StatusOr<std::unique_ptr<OciRuntime>> NewOciRuntime(const MonitorConfig& config);

}  // namespace berth
