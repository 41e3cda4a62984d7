#include "cri/container/rootfs_mount.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/mount_fd.h"

namespace berth::cri {
namespace {

absl::Status FsConfig(int fs, unsigned command, const std::string& key, const std::string& value) {
  if (::syscall(SYS_fsconfig, fs, command, key.c_str(), value.empty() ? nullptr : value.c_str(),
                0) != 0)
    return ErrnoStatus(absl::StrCat("overlay option ", key, "=", value));
  return absl::OkStatus();
}

// A detached, idmapped clone of `dir` (with its submounts when `recursive`).
absl::StatusOr<UniqueFd> IdmappedClone(const std::string& dir, int userns_fd, bool recursive) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, dir.c_str(), flags)));
  if (!tree) return ErrnoStatus("clone the mount of " + dir);
  RETURN_IF_ERROR(IdmapMount(tree.get(), userns_fd, recursive, dir));
  return tree;
}

absl::Status MountOverlayWithNewApi(const snapshotter::Mount& mount, const std::string& target,
                                    const RootfsIdmap* idmap) {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fs) return ErrnoStatus("fsopen overlay");
  auto absolute = [&](absl::string_view path) {
    return path.empty() || path[0] == '/' ? std::string(path)
                                          : absl::StrCat(mount.working_dir, "/", path);
  };
  std::vector<UniqueFd> idmapped_layers;  // held until the overlay is made
  for (const std::string& option : mount.options) {
    std::pair<std::string, std::string> kv = absl::StrSplit(option, absl::MaxSplits('=', 1));
    if (kv.first == "lowerdir") {
      for (absl::string_view dir : absl::StrSplit(kv.second, ':')) {
        std::string layer = absolute(dir);
        if (idmap != nullptr) {
          ASSIGN_OR_RETURN(UniqueFd clone, IdmappedClone(layer, idmap->userns_fd, false));
          layer = absl::StrCat("/proc/self/fd/", clone.get());
          idmapped_layers.push_back(std::move(clone));
        }
        RETURN_IF_ERROR(FsConfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", layer));
      }
    } else if (kv.first == "upperdir" || kv.first == "workdir") {
      std::string dir = absolute(kv.second);
      if (idmap != nullptr && kv.first == "upperdir" &&
          ::chown(dir.c_str(), idmap->root_uid, idmap->root_gid) != 0)
        return ErrnoStatus("give the upper directory " + dir + " to the pod's root");
      RETURN_IF_ERROR(FsConfig(fs.get(), FSCONFIG_SET_STRING, kv.first, dir));
    } else if (kv.second.empty() && option.find('=') == std::string::npos) {
      RETURN_IF_ERROR(FsConfig(fs.get(), FSCONFIG_SET_FLAG, kv.first, ""));
    } else {
      RETURN_IF_ERROR(FsConfig(fs.get(), FSCONFIG_SET_STRING, kv.first, kv.second));
    }
  }
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return ErrnoStatus("create the overlay for " + target);
  UniqueFd mnt(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, 0)));
  if (!mnt) return ErrnoStatus("fsmount the overlay for " + target);
  if (::syscall(SYS_move_mount, mnt.get(), "", AT_FDCWD, target.c_str(),
                MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return ErrnoStatus("move the overlay onto " + target);
  return absl::OkStatus();
}

absl::Status BindSnapshot(const snapshotter::Mount& mount, const std::string& target,
                          const RootfsIdmap* idmap) {
  bool readonly = false;
  for (const std::string& option : mount.options) readonly |= option == "ro";
  if (idmap != nullptr) {
    ASSIGN_OR_RETURN(UniqueFd tree, IdmappedClone(mount.source, idmap->userns_fd, true));
    if (readonly)
      RETURN_IF_ERROR(SetMountAttributes(tree.get(), {.set = MOUNT_ATTR_RDONLY}, mount.source));
    if (::syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, target.c_str(),
                  MOVE_MOUNT_F_EMPTY_PATH) != 0)
      return ErrnoStatus("bind the rootfs on " + target);
    return absl::OkStatus();
  }
  if (::mount(mount.source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return ErrnoStatus("bind the rootfs on " + target);
  if (readonly &&
      ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
    return ErrnoStatus("make the rootfs on " + target + " read-only");
  return absl::OkStatus();
}

}  // namespace

absl::Status MountSnapshot(const std::vector<snapshotter::Mount>& mounts,
                           const std::string& target, const RootfsIdmap* idmap) {
  if (mounts.size() != 1)
    return absl::InternalError(absl::StrCat("a rootfs of ", mounts.size(), " mounts"));
  const snapshotter::Mount& mount = mounts[0];
  if (mount.type == "bind") return BindSnapshot(mount, target, idmap);
  if (!mount.working_dir.empty() || (idmap != nullptr && mount.type == "overlay"))
    return MountOverlayWithNewApi(mount, target, idmap);
  if (idmap != nullptr)
    return absl::FailedPreconditionError("cannot idmap a snapshot mounted as " + mount.type);
  std::string data = absl::StrJoin(mount.options, ",");
  if (::mount(mount.source.c_str(), target.c_str(), mount.type.c_str(), 0, data.c_str()) != 0)
    return ErrnoStatus("mount the rootfs on " + target);
  return absl::OkStatus();
}

absl::Status UnmountSnapshot(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return ErrnoStatus("unmount " + target);
  return absl::OkStatus();
}

}  // namespace berth::cri
