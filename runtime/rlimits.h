#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/oci/spec.h"

namespace berth {

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE.
std::optional<int> RlimitFromName(const std::string& name);

// Sets each limit. Raising a hard limit needs CAP_SYS_RESOURCE: without it
// the error says so, naming the limit and both values.
absl::Status ApplyRlimits(const std::vector<oci::Rlimit>& limits);

}  // namespace berth
