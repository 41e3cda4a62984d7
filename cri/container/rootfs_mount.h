#pragma once

// Mounting a container's snapshot on its rootfs directory, and unmounting it.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "snapshotter/snapshotter.h"

namespace berth::cri {

// One overlay or bind mount as the snapshotter describes it. Options
// relative to a working directory (long layer chains) are given to the
// kernel one lower layer at a time through fsconfig("lowerdir+"), since a
// threaded daemon cannot chdir for a single mount.
absl::Status MountSnapshot(const std::vector<snapshotter::Mount>& mounts,
                           const std::string& target);

// Detaches the mount on `target`; not mounted is fine.
absl::Status UnmountSnapshot(const std::string& target);

}  // namespace berth::cri
