#pragma once

#include <optional>
#include <string>
#include <vector>

namespace berth::oci {

// "CAP_NET_ADMIN" -> 12. Names are the kernel's, as the OCI spec uses them.
std::optional<int> CapabilityFromName(const std::string& name);
// Every capability name berth knows, in kernel order (index = number).
std::vector<std::string> KnownCapabilities();

}  // namespace berth::oci
