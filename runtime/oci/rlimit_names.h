#pragma once

#include <optional>
#include <string>

namespace berth::oci {

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE: the names process.rlimits[].type takes.
std::optional<int> RlimitFromName(const std::string& name);

}  // namespace berth::oci
