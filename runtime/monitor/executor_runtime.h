#pragma once

// The in-tree executor as the monitor's OciRuntime: library calls, no exec
// of a runtime binary on the path to a running container.

#include "runtime/container.h"
#include "runtime/monitor/oci_runtime.h"

namespace berth {

class ExecutorRuntime final : public OciRuntime {
 public:
  explicit ExecutorRuntime(const MonitorConfig& config);

  absl::StatusOr<CreatedContainer> Create(const ContainerStdio& stdio) override;
  absl::Status Start() override;
  absl::Status ForceDelete() override;

 private:
  const MonitorConfig& config_;
  RuntimeOptions runtime_;
};

}  // namespace berth
