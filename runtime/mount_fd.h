#pragma once

// Mounts made from and onto file descriptors with the new mount API
// (open_tree, move_mount, mount_setattr, fsopen/fsmount), so no step looks a
// path up again once the rootfs is reachable by the container: a symlink or
// a mount swapped in by the image (or a racing container) cannot redirect
// them (CVE-2025-31133, CVE-2025-52565, CVE-2025-52881 and their kin).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth {

// Per-mount attributes, as mount_setattr(2) takes them.
struct MountAttributes {
  uint64_t set = 0;    // MOUNT_ATTR_RDONLY, _NOSUID, _NODEV, _NOEXEC, _NODIRATIME, an atime mode
  uint64_t clear = 0;  // what to turn off (MOUNT_ATTR__ATIME when an atime mode is set)
  uint64_t propagation = 0;  // MS_PRIVATE, MS_SLAVE, MS_SHARED or MS_UNBINDABLE; 0 keeps it
  bool recursive = false;    // the whole tree under the mount, not just its top

  bool empty() const { return set == 0 && clear == 0 && propagation == 0; }
};

// Translates mount(2) flags (MS_RDONLY, MS_NOSUID, ...) into attributes to
// set, and the flags an option turned off into attributes to clear.
MountAttributes AttributesFromFlags(unsigned long set_flags, unsigned long clear_flags);

// A detached copy of the mount (with `recursive`, the tree) at `source_fd`,
// which may be an O_PATH fd of any file or directory.
absl::StatusOr<UniqueFd> CloneMount(int source_fd, bool recursive, const std::string& what);

// Applies `attributes` to the mount `mount_fd` refers to (attached or not).
absl::Status SetMountAttributes(int mount_fd, const MountAttributes& attributes,
                                const std::string& what);

// Idmaps the detached mount `tree_fd` (with `recursive`, its tree) through
// the user namespace `userns_fd`: a file of host id H appears as the id H
// maps to in that namespace. FAILED_PRECONDITION where the filesystem or
// the kernel cannot idmap.
absl::Status IdmapMount(int tree_fd, int userns_fd, bool recursive, const std::string& what);

// Attaches the detached mount `tree_fd` on top of `target_fd`.
absl::Status MoveMount(int tree_fd, int target_fd, const std::string& what);

// Binds what `source_fd` refers to onto `target_fd`: the clone gets
// `attributes` before it is attached, so it is never visible without them.
// Returns the attached mount.
absl::StatusOr<UniqueFd> BindMount(int source_fd, int target_fd, bool recursive,
                                   const MountAttributes& attributes, const std::string& what);

// A new detached filesystem of `type`, configured with string `options`.
absl::StatusOr<UniqueFd> NewDetachedMount(
    const char* type, const std::vector<std::pair<std::string, std::string>>& options,
    uint64_t attributes);

}  // namespace berth
