#pragma once

#include <string>

#include "absl/status/status.h"

namespace berth::cri {

// Whether the systemd cgroup driver can work here: systemd runs (sd_booted's
// test on `systemd_dir`, normally /run/systemd/system) and its manager
// answers on the system bus. FAILED_PRECONDITION says what is missing.
absl::Status CheckSystemdCgroupDriver(const std::string& systemd_dir);

}  // namespace berth::cri
