#pragma once

#include <string>

#include "absl/status/status.h"

namespace berth::snapshotter {

// Removes `name` in directory `dir_fd` and everything under it, never
// following a symlink out of the tree. Absent is fine.
absl::Status RemoveTreeAt(int dir_fd, const std::string& name);

// RemoveTreeAt for an absolute path.
absl::Status RemoveTree(const std::string& path);

}  // namespace berth::snapshotter
