#pragma once

// Mounting a container's snapshot on its rootfs directory, and unmounting it.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "snapshotter/snapshotter.h"

namespace berth::cri {

// One overlay or bind mount as the snapshotter describes it. Options
// relative to a working directory (long layer chains) are given to the
// kernel one lower layer at a time through fsconfig("lowerdir+"), since a
// threaded daemon cannot chdir for a single mount.
//
// With `idmap` (a pod with a user namespace), each lower layer is an
// idmapped mount through the pod's namespace (overlayfs cannot idmap
// itself, but takes idmapped layers), so the image's root-owned files are
// the container's root's; the upper directory is given to the pod's root,
// and what the container writes is owned on disk by the pod's host ids.
struct RootfsIdmap {
  int userns_fd = -1;  // the pod's user namespace
  uid_t root_uid = 0;  // the host ids of the container's 0
  gid_t root_gid = 0;
};
absl::Status MountSnapshot(const std::vector<snapshotter::Mount>& mounts, const std::string& target,
                           const RootfsIdmap* idmap = nullptr);

// Detaches the mount on `target`; not mounted is fine.
absl::Status UnmountSnapshot(const std::string& target);

}  // namespace berth::cri
