#pragma once

#include <vector>

#include "absl/status/status.h"
#include "runtime/oci/spec.h"

namespace berth {

// Sets each limit. Raising a hard limit needs CAP_SYS_RESOURCE: without it
// the error says so, naming the limit and both values.
absl::Status ApplyRlimits(const std::vector<oci::Rlimit>& limits);

}  // namespace berth
