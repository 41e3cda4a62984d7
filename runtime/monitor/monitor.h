#pragma once

#include <string>

#include "absl/status/status.h"
#include "runtime/monitor/monitor_config.h"

namespace berth {

// The monitor's life, in its own session: create the container with its
// output on pipes, report one line {"pid": N} (or {"error": "..."}) on
// `sync_fd`, then serve the control and attach sockets and copy output into
// the CRI log until the container's init exits; then write the exit file
// and return. Single-threaded: one poll loop.
absl::Status RunMonitor(const MonitorConfig& config, int sync_fd);

}  // namespace berth
