#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/oci/spec.h"

namespace berth {

// One container's cgroup, on whichever cgroup version the host runs.
class CgroupManager {
 public:
  virtual ~CgroupManager() = default;

  // Creates the cgroup if needed and moves `pid` into it.
  virtual absl::Status Join(pid_t pid) = 0;
  // Writes the limits. Unsupported settings fail naming the OCI field.
  virtual absl::Status SetResources(const oci::Resources& resources) = 0;
  // A new container's init: Join, then SetResources when `resources` is
  // given. The systemd driver hands systemd the limits with the unit.
  virtual absl::Status Place(pid_t pid, const oci::Resources* resources) {
    absl::Status joined = Join(pid);
    if (!joined.ok() || resources == nullptr) return joined;
    return SetResources(*resources);
  }
  virtual absl::Status Freeze(bool frozen) = 0;
  virtual absl::StatusOr<bool> IsFrozen() = 0;
  virtual absl::StatusOr<std::vector<pid_t>> Pids() = 0;
  // How many processes the kernel's OOM killer has killed in this cgroup.
  virtual absl::StatusOr<uint64_t> OomKillCount() = 0;
  // Removes the cgroup directories; a missing cgroup is not an error.
  virtual absl::Status Destroy() = 0;
  // Host directories of the cgroup: {controller -> dir} for v1, {"" -> dir} for v2.
  virtual std::map<std::string, std::string> Dirs() const = 0;
  virtual int version() const = 0;
};

// The cgroup path for a container: the spec's cgroupsPath, or /berth/<id>
// when it is empty. With the systemd driver, "slice:prefix:name" becomes the
// path of the scope systemd makes ("/system.slice/prefix-name.scope"), and an
// empty cgroupsPath means "system.slice:berth:<id>".
absl::StatusOr<std::string> ContainerCgroupPath(const std::string& cgroups_path, bool systemd,
                                                const std::string& id);

// The manager for this host: v2 when `mount_root` (normally /sys/fs/cgroup)
// is a cgroup2 mount, v1 otherwise.
absl::StatusOr<std::unique_ptr<CgroupManager>> NewCgroupManager(
    const std::string& cgroup_path, const std::string& mount_root = "/sys/fs/cgroup");

// A container's manager under its cgroup driver: with systemd, the cgroup
// (a path from ContainerCgroupPath) is a transient scope that systemd makes.
absl::StatusOr<std::unique_ptr<CgroupManager>> NewContainerCgroupManager(
    const std::string& cgroup_path, bool systemd);

}  // namespace berth
