#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "runtime/oci/spec.h"

namespace berth {

struct RootfsOptions {
  std::string bundle;  // relative bind sources resolve against it
  // In a user namespace device nodes cannot be created: bind them from the
  // host. Nor can sysfs be mounted for a network namespace the host owns:
  // the host's /sys is bound instead, as runc does.
  bool in_user_namespace = false;
  // Idmapped mounts the parent prepared (idmapped_mounts.h), by index in
  // spec.mounts: attached as they are.
  std::map<size_t, int> idmapped_mounts;
  // The container's cgroup directories on the host (CgroupManager::Dirs), for
  // "cgroup" mounts, and the host's cgroup version.
  std::map<std::string, std::string> cgroup_dirs;
  int cgroup_version = 1;
  // Called once before the first cgroup mount, and in any case before
  // pivot_root: the init waits there for its cgroup, so the parent can build
  // the cgroup while the init builds the rootfs.
  std::function<absl::Status()> before_cgroup_mounts;
  // Called after every mount, just before pivot_root (createContainer hooks).
  std::function<absl::Status()> before_pivot;
};

// Builds the container's filesystem view, inside its new mount namespace:
// isolates mount propagation from the host, performs spec.mounts in order
// (destinations resolved inside the rootfs, never through a symlink to the
// host; binds made from and onto fds), creates devices, applies
// maskedPaths and readonlyPaths, pivots into the rootfs, then applies
// rootfsPropagation and root.readonly. Without a mount namespace in the spec
// (legal, if rare) it only changes root into the rootfs.
//
// Masks are bound from the host's /dev/null, checked to be the 1:3 device,
// never from the container's "/dev/null" (CVE-2025-31133). Sysctls are
// written later through a private procfs (procfs.h), so a read-only
// /proc/sys in the container does not get in their way.
absl::Status PrepareRootfs(const oci::Spec& spec, const RootfsOptions& options);

}  // namespace berth
