#pragma once

// berthd's own process figures for the process_* metrics Prometheus
// clients conventionally export, read from /proc/self.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::cri {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double start_time_seconds = 0;  // since the epoch
  int64_t threads = 0;
  int64_t open_fds = 0;
  int64_t max_fds = 0;
};

// Parses /proc/<pid>/stat text. `clock_ticks` is sysconf(_SC_CLK_TCK),
// `page_size` sysconf(_SC_PAGESIZE), `boot_time_seconds` /proc/stat's btime.
absl::StatusOr<ProcessStats> ParseProcStat(absl::string_view stat, long clock_ticks, long page_size,
                                           double boot_time_seconds);

// /proc/stat's "btime" line.
absl::StatusOr<double> ParseBootTime(absl::string_view proc_stat);

// This process, now.
absl::StatusOr<ProcessStats> ReadProcessStats();

}  // namespace berth::cri
