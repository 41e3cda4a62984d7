#pragma once

// File access shared by the v1 and v2 managers.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::cgroups {

// Writes `value` to an existing control file; errors name the file and value.
absl::Status WriteControl(const std::string& dir, const std::string& file,
                          const std::string& value);
absl::StatusOr<std::string> ReadControl(const std::string& dir, const std::string& file);
// The pids listed in <dir>/cgroup.procs.
absl::StatusOr<std::vector<pid_t>> ReadProcs(const std::string& dir);
// The value of `key` in a flat keyed file ("oom_kill 3" lines).
absl::StatusOr<uint64_t> ReadKeyedValue(const std::string& dir, const std::string& file,
                                        const std::string& key);
// rmdir, retrying briefly while the kernel finishes tearing down exited tasks.
absl::Status RemoveCgroupDir(const std::string& dir);

}  // namespace berth::cgroups
