#include "runtime/mount_fd.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth {

MountAttributes AttributesFromFlags(unsigned long set_flags, unsigned long clear_flags) {
  constexpr std::pair<unsigned long, uint64_t> kSimple[] = {{MS_RDONLY, MOUNT_ATTR_RDONLY},
                                                            {MS_NOSUID, MOUNT_ATTR_NOSUID},
                                                            {MS_NODEV, MOUNT_ATTR_NODEV},
                                                            {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
                                                            {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME}};
  MountAttributes attributes;
  for (const auto& [flag, attribute] : kSimple) {
    if (set_flags & flag) attributes.set |= attribute;
    if (clear_flags & flag) attributes.clear |= attribute;
  }
  // The atime mode is one field: setting a mode means clearing the field first.
  uint64_t atime = (set_flags & MS_NOATIME)       ? MOUNT_ATTR_NOATIME
                   : (set_flags & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME
                   : (set_flags & MS_RELATIME)    ? MOUNT_ATTR_RELATIME
                                                  : UINT64_MAX;
  if (atime != UINT64_MAX) {
    attributes.set |= atime;
    attributes.clear |= MOUNT_ATTR__ATIME;
  }
  return attributes;
}

absl::StatusOr<UniqueFd> CloneMount(int source_fd, bool recursive, const std::string& what) {
  unsigned flags =
      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, source_fd, "", flags)));
  if (!tree) return ErrnoStatus("clone the mount of " + what);
  return tree;
}

absl::Status SetMountAttributes(int mount_fd, const MountAttributes& attributes,
                                const std::string& what) {
  if (attributes.empty()) return absl::OkStatus();
  mount_attr attr{.attr_set = attributes.set,
                  .attr_clr = attributes.clear,
                  .propagation = attributes.propagation,
                  .userns_fd = 0};
  unsigned flags = AT_EMPTY_PATH | (attributes.recursive ? AT_RECURSIVE : 0);
  if (::syscall(SYS_mount_setattr, mount_fd, "", flags, &attr, sizeof(attr)) != 0)
    return ErrnoStatus("set mount attributes of " + what);
  return absl::OkStatus();
}

absl::Status IdmapMount(int tree_fd, int userns_fd, bool recursive, const std::string& what) {
  mount_attr attr{.attr_set = MOUNT_ATTR_IDMAP,
                  .attr_clr = 0,
                  .propagation = 0,
                  .userns_fd = static_cast<uint64_t>(userns_fd)};
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::syscall(SYS_mount_setattr, tree_fd, "", flags, &attr, sizeof(attr)) == 0)
    return absl::OkStatus();
  if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot idmap ", what, ": its filesystem or this kernel does not support idmapped mounts (",
        std::strerror(errno), ")"));
  }
  return ErrnoStatus("idmap " + what);
}

absl::Status MoveMount(int tree_fd, int target_fd, const std::string& what) {
  if (::syscall(SYS_move_mount, tree_fd, "", target_fd, "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
    return ErrnoStatus("mount " + what);
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> BindMount(int source_fd, int target_fd, bool recursive,
                                   const MountAttributes& attributes, const std::string& what) {
  ASSIGN_OR_RETURN(UniqueFd tree, CloneMount(source_fd, recursive, what));
  MountAttributes before = attributes;
  before.propagation = 0;  // propagation is a property of the attached mount
  RETURN_IF_ERROR(SetMountAttributes(tree.get(), before, what));
  RETURN_IF_ERROR(MoveMount(tree.get(), target_fd, what));
  if (attributes.propagation != 0) {
    RETURN_IF_ERROR(SetMountAttributes(
        tree.get(), {.propagation = attributes.propagation, .recursive = attributes.recursive},
        what));
  }
  return tree;
}

absl::StatusOr<UniqueFd> NewDetachedMount(
    const char* type, const std::vector<std::pair<std::string, std::string>>& options,
    uint64_t attributes) {
  UniqueFd context(static_cast<int>(::syscall(SYS_fsopen, type, FSOPEN_CLOEXEC)));
  if (!context) return ErrnoStatus(absl::StrCat("fsopen ", type));
  for (const auto& [key, value] : options) {
    if (::syscall(SYS_fsconfig, context.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(),
                  0) != 0) {
      return ErrnoStatus(absl::StrCat("fsconfig ", type, " ", key, "=", value));
    }
  }
  if (::syscall(SYS_fsconfig, context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return ErrnoStatus(absl::StrCat("create a ", type, " filesystem"));
  UniqueFd mount(
      static_cast<int>(::syscall(SYS_fsmount, context.get(), FSMOUNT_CLOEXEC, attributes)));
  if (!mount) return ErrnoStatus(absl::StrCat("fsmount ", type));
  return mount;
}

}  // namespace berth
