#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/oci/spec.h"

namespace berth {

// Runs `hooks` in order, each with the container's OCI state JSON on stdin,
// its own args and env, and its timeout. The first failure stops the rest and
// is returned naming the hook kind and path.
absl::Status RunHooks(const std::vector<oci::Hook>& hooks, const std::string& kind,
                      const std::string& state_json);

}  // namespace berth
