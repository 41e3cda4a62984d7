#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshotter {

// Bytes (allocated blocks) and inodes under `path`, counting each hard-linked
// inode once and staying on one filesystem, like `du -s --inodes`.
absl::StatusOr<SnapshotUsage> DiskUsage(const std::string& path);

}  // namespace berth::snapshotter
