#pragma once

#include "absl/status/status.h"
#include "runtime/oci/spec.h"

namespace berth {

// Applies process.capabilities in the order the kernel requires: drop the
// bounding set, switch uid/gid keeping capabilities, set effective,
// permitted and inheritable, raise ambient. Must run in the container's
// init (or exec) process, single-threaded.
absl::Status DropBoundingCapabilities(const oci::Capabilities& caps);
absl::Status SetProcessCapabilities(const oci::Capabilities& caps);
absl::Status RaiseAmbientCapabilities(const oci::Capabilities& caps);

}  // namespace berth
