#pragma once

// What berthd counts for Prometheus. The services report events through
// this interface; NoMetrics() takes them when metrics are off, so callers
// never check. No Prometheus header reaches the services.

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::cri {

class Metrics {
 public:
  virtual ~Metrics() = default;
  // A CRI RPC answered with `code` ("OK", "NOT_FOUND", ...).
  virtual void RpcDone(absl::string_view method, absl::string_view code, absl::Duration took) = 0;
  // An image pull: `failure` is empty on success, else the error's code
  // name; `bytes` is what was downloaded.
  virtual void PullDone(absl::string_view failure, uint64_t bytes, absl::Duration took) = 0;
  // One CNI plugin run (`command`: ADD, DEL, CHECK, ...).
  virtual void CniPluginDone(absl::string_view plugin, absl::string_view command, bool ok,
                             absl::Duration took) = 0;
};

// Takes every event and does nothing.
Metrics& NoMetrics();

}  // namespace berth::cri
