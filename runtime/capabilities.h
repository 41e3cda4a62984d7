#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/oci/spec.h"

namespace berth {

// "CAP_NET_ADMIN" -> 12. Names are the kernel's, as the OCI spec uses them.
std::optional<int> CapabilityFromName(const std::string& name);
// Every capability name berth-runtime knows, in kernel order.
std::vector<std::string> KnownCapabilities();

// Applies process.capabilities in the order the kernel requires: drop the
// bounding set, switch uid/gid keeping capabilities, set effective,
// permitted and inheritable, raise ambient. Must run in the container's
// init (or exec) process, single-threaded.
absl::Status DropBoundingCapabilities(const oci::Capabilities& caps);
absl::Status SetProcessCapabilities(const oci::Capabilities& caps);
absl::Status RaiseAmbientCapabilities(const oci::Capabilities& caps);

}  // namespace berth
