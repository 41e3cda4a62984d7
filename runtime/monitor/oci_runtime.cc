#include "runtime/monitor/oci_runtime.h"

#include "runtime/monitor/executor_runtime.h"
#include "runtime/monitor/external_runtime.h"

namespace berth {

absl::StatusOr<std::unique_ptr<OciRuntime>> NewOciRuntime(const MonitorConfig& config) {
  if (config.runtime_binary.empty()) return std::make_unique<ExecutorRuntime>(config);
  // posix_spawn does no PATH search, and a relative path would depend on our cwd.
  if (config.runtime_binary[0] != '/') {
    return absl::InvalidArgumentError("runtime_binary \"" + config.runtime_binary +
                                      "\" is not an absolute path");
  }
  return std::make_unique<ExternalRuntime>(config);
}

}  // namespace berth
