#pragma once

// Another OCI runtime as the monitor's OciRuntime, driven through runc's
// command line (runc, crun, berth-runtime) for RuntimeClass handlers:
//
//   <binary> --root R --log=<state>/runtime.log --log-format=json [--systemd-cgroup]
//       create --bundle B --pid-file <state>/init.pid [--console-socket S] <id>
//       start <id>
//       delete --force <id>
//
// create runs with the container's stdio as its own, which runc and crun
// hand to a detached container's init; the runtime exits once the init
// waits for start, so the init is reparented to the monitor.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "runtime/monitor/oci_runtime.h"

namespace berth {

struct SpawnOptions;

class ExternalRuntime final : public OciRuntime {
 public:
  explicit ExternalRuntime(const MonitorConfig& config) : config_(config) {}

  absl::StatusOr<CreatedContainer> Create(const ContainerStdio& stdio) override;
  absl::Status Start() override;
  absl::Status ForceDelete() override;

 private:
  // Runs `<binary> <global flags> <args...>` to its end; a failure carries
  // the error the runtime logged.
  absl::Status Run(const std::vector<std::string>& args, const SpawnOptions& options);
  absl::StatusOr<CreatedContainer> Inspect();

  const MonitorConfig& config_;
};

// The message of the last error in a runtime's --log-format json output
// (runc, crun and berth-runtime write {"level":"error","msg":...}); else
// its last non-empty line; empty if there is none.
std::string LastRuntimeError(absl::string_view log);

// From /proc/<pid>/cgroup: the memory controller's path on cgroup v1 (or
// hybrid), else the unified hierarchy's path; OOM kills are counted there.
absl::StatusOr<std::string> MemoryCgroupPath(absl::string_view proc_pid_cgroup);

}  // namespace berth
