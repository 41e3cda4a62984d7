#include "runtime/cgroups/cgroup_manager.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroups/cgroup_v1.h"
#include "runtime/cgroups/cgroup_v2.h"
#include "runtime/cgroups/systemd_cgroup.h"

namespace berth {

absl::StatusOr<std::string> ContainerCgroupPath(const std::string& cgroups_path, bool systemd,
                                                const std::string& id) {
  if (cgroups_path.empty()) {
    return systemd ? ContainerCgroupPath(absl::StrCat("system.slice:berth:", id), true, id)
                   : absl::StrCat("/berth/", id);
  }
  if (cgroups_path.find("..") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("linux.cgroupsPath: \"", cgroups_path, "\" contains \"..\""));
  }
  if (systemd) {
    std::vector<std::string> parts = absl::StrSplit(cgroups_path, ':');
    if (parts.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("linux.cgroupsPath: \"", cgroups_path,
                       "\" must be slice:prefix:name with the systemd driver"));
    }
    std::string slice = parts[0].empty() ? "system.slice" : parts[0];
    // Nested slices live inside their parents: a-b.slice is in a.slice.
    std::string slice_path;
    std::string prefix;
    for (absl::string_view piece : absl::StrSplit(absl::StripSuffix(slice, ".slice"), '-')) {
      prefix = prefix.empty() ? std::string(piece) : absl::StrCat(prefix, "-", piece);
      absl::StrAppend(&slice_path, "/", prefix, ".slice");
    }
    if (slice == "-.slice") slice_path = "";
    std::string unit = parts[1].empty() ? absl::StrCat(parts[2], ".scope")
                                        : absl::StrCat(parts[1], "-", parts[2], ".scope");
    return absl::StrCat(slice_path, "/", unit);
  }
  return cgroups_path[0] == '/' ? cgroups_path : absl::StrCat("/", cgroups_path);
}

absl::StatusOr<std::unique_ptr<CgroupManager>> NewCgroupManager(const std::string& cgroup_path,
                                                                const std::string& mount_root) {
  struct statfs fs;
  if (::statfs(mount_root.c_str(), &fs) != 0) return ErrnoStatus("statfs " + mount_root);
  if (fs.f_type == CGROUP2_SUPER_MAGIC) {
    return std::unique_ptr<CgroupManager>(new CgroupV2Manager(mount_root, cgroup_path));
  }
  ASSIGN_OR_RETURN(auto hierarchies, CgroupV1Manager::MountedHierarchies());
  if (hierarchies.empty())
    return absl::FailedPreconditionError("no cgroup v1 or v2 hierarchy is mounted");
  return std::unique_ptr<CgroupManager>(new CgroupV1Manager(std::move(hierarchies), cgroup_path));
}

absl::StatusOr<std::unique_ptr<CgroupManager>> NewContainerCgroupManager(
    const std::string& cgroup_path, bool systemd) {
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroupfs, NewCgroupManager(cgroup_path));
  if (!systemd) return cgroupfs;
  return std::unique_ptr<CgroupManager>(
      new SystemdCgroupManager(SystemdUnitOfPath(cgroup_path), std::move(cgroupfs)));
}

}  // namespace berth
