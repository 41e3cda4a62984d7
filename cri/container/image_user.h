#pragma once

// Who a container's process runs as: the CRI security context's user,
// group and supplemental groups over the image's USER, resolved in the
// image's own /etc/passwd and /etc/group (read inside the rootfs, so a
// symlink in the image cannot point the lookup at the host's files).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

struct ProcessUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;  // without gid, in order, no duplicates
};

// The image's user database, as text; either may be empty (no such file).
struct UserDatabase {
  std::string passwd;
  std::string group;
};

// Reads <rootfs>/etc/passwd and <rootfs>/etc/group, resolving inside rootfs.
absl::StatusOr<UserDatabase> ReadUserDatabase(const std::string& rootfs);

// The user per the CRI rules: run_as_username must exist in the image;
// run_as_group needs run_as_user or run_as_username; without either, the
// image's USER ("name", "uid", "name:group", "uid:gid"), else root. The
// user's /etc/group memberships are added unless the policy is Strict,
// then the security context's supplemental groups.
absl::StatusOr<ProcessUser> ResolveProcessUser(
    const runtime::v1::LinuxContainerSecurityContext& security, const std::string& image_user,
    const UserDatabase& database);

}  // namespace berth::cri
