#pragma once

// Counts the berth-monitor processes of a state directory from /proc: a
// pod's or container's monitor runs as
//   berth-monitor --config <state_dir>/.../monitor/config.json ...
// Reading the process table asks nothing of the monitors themselves.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::cri {

// Whether `cmdline` (/proc/<pid>/cmdline: NUL-separated arguments) is a
// monitor whose config lies under `state_dir`.
bool IsMonitorOf(absl::string_view cmdline, absl::string_view state_dir);

// berth-monitors alive for `state_dir`.
absl::StatusOr<int> CountLiveMonitors(const std::string& state_dir);

}  // namespace berth::cri
