#include "cri/container/rootfs_mount.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth::cri {
namespace {

absl::Status FsConfig(int fs, unsigned command, const std::string& key, const std::string& value) {
  if (::syscall(SYS_fsconfig, fs, command, key.c_str(), value.empty() ? nullptr : value.c_str(),
                0) != 0)
    return ErrnoStatus(absl::StrCat("overlay option ", key, "=", value));
  return absl::OkStatus();
}

absl::Status MountOverlayWithNewApi(const snapshotter::Mount& mount, const std::string& target) {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fs) return ErrnoStatus("fsopen overlay");
  auto absolute = [&](absl::string_view path) {
    return path.empty() || path[0] == '/' ? std::string(path)
                                          : absl::StrCat(mount.working_dir, "/", path);
  };
  for (const std::string& option : mount.options) {
    std::pair<std::string, std::string> kv = absl::StrSplit(option, absl::MaxSplits('=', 1));
    if (kv.first == "lowerdir") {
      for (absl::string_view dir : absl::StrSplit(kv.second, ':'))
        RETURN_IF_ERROR(FsConfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", absolute(dir)));
    } else if (kv.first == "upperdir" || kv.first == "workdir") {
      RETURN_IF_ERROR(FsConfig(fs.get(), FSCONFIG_SET_STRING, kv.first, absolute(kv.second)));
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

}  // namespace

absl::Status MountSnapshot(const std::vector<snapshotter::Mount>& mounts,
                           const std::string& target) {
  if (mounts.size() != 1)
    return absl::InternalError(absl::StrCat("a rootfs of ", mounts.size(), " mounts"));
  const snapshotter::Mount& mount = mounts[0];
  if (mount.type == "bind") {
    unsigned long flags = MS_BIND | MS_REC;
    if (::mount(mount.source.c_str(), target.c_str(), nullptr, flags, nullptr) != 0)
      return ErrnoStatus("bind the rootfs on " + target);
    bool readonly = false;
    for (const std::string& option : mount.options) readonly |= option == "ro";
    if (readonly && ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY,
                            nullptr) != 0)
      return ErrnoStatus("make the rootfs on " + target + " read-only");
    return absl::OkStatus();
  }
  if (!mount.working_dir.empty()) return MountOverlayWithNewApi(mount, target);
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
