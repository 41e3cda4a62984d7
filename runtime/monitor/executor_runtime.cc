#include "runtime/monitor/executor_runtime.h"

#include "runtime/base/status_macros.h"
#include "runtime/monitor/stdio.h"

namespace berth {

ExecutorRuntime::ExecutorRuntime(const MonitorConfig& config)
    : config_(config),
      runtime_{.root = config.runtime_root, .systemd_cgroup = config.systemd_cgroup} {}

absl::StatusOr<CreatedContainer> ExecutorRuntime::Create(const ContainerStdio& stdio) {
  {
    // The init inherits fds 0-2 from us.
    ScopedStdio scoped(stdio.in, stdio.out, stdio.err);
    CreateOptions options{.bundle = config_.bundle};
    if (config_.tty) options.console_socket = config_.console_socket();
    RETURN_IF_ERROR(CreateContainer(runtime_, config_.id, options));
  }
  absl::StatusOr<ContainerInfo> info = InspectContainer(runtime_, config_.id);
  if (!info.ok()) {
    (void)ForceDelete();
    return info.status();
  }
  return CreatedContainer{.init_pid = info->state.pid, .cgroup_path = info->state.cgroup_path};
}

absl::Status ExecutorRuntime::Start() { return StartContainer(runtime_, config_.id); }

absl::Status ExecutorRuntime::ForceDelete() {
  return DeleteContainer(runtime_, config_.id, /*force=*/true);
}

}  // namespace berth
