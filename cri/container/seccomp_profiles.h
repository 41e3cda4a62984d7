#pragma once

// Seccomp for CRI containers: the CRI SecurityProfile (RuntimeDefault,
// Unconfined, Localhost) turned into the OCI linux.seccomp object that the
// executor (runtime/seccomp_filter.h) compiles. Pure apart from reading a
// Localhost profile file and, for a profile's minKernel, uname().

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

// The OCI linux.seccomp object equivalent to containerd's default profile
// (RuntimeDefault) for this machine's architecture, given the container's
// bounding/effective capability names ("CAP_SYS_ADMIN", ...): syscalls that
// containerd allows only with a capability are allowed only when present.
// Denied syscalls fail with EPERM; clone3 without CAP_SYS_ADMIN with ENOSYS,
// so that libcs fall back to clone, whose namespace flags the filter can see.
nlohmann::json RuntimeDefaultSeccomp(const std::vector<std::string>& capabilities);

// A profile file (Localhost) in the docker/containerd JSON format
// (defaultAction, defaultErrnoRet, architectures or archMap, syscalls with
// name or names, action, errnoRet, args, includes/excludes with caps, arches
// and minKernel), converted to the OCI linux.seccomp object the way docker
// does: archMap contributes only this machine's entry, an entry whose
// includes/excludes do not hold for these capabilities, this architecture
// ("amd64"/"arm64" as docker writes them, or the SCMP_ARCH_ name) or this
// kernel is dropped. InvalidArgument naming the file and the problem for an
// unreadable file, invalid JSON, an unknown action or operator, or a notify
// listener (unsupported); NotFound for a missing file.
absl::StatusOr<nlohmann::json> LocalhostSeccomp(const std::string& path,
                                                const std::vector<std::string>& capabilities);

// The seccomp object for a container's CRI SecurityProfile: nullopt for
// Unconfined; RuntimeDefault -> RuntimeDefaultSeccomp; Localhost ->
// LocalhostSeccomp(localhost_ref), which must be an absolute path
// (InvalidArgument otherwise, and for a localhost_ref on another type).
// An unset profile is unconfined too (the CRI's default; kubelet sends
// RuntimeDefault explicitly when it wants it). profile_type's zero value is
// RuntimeDefault, so "unset" is only visible as the accessor's default
// instance (`context.seccomp()` when !has_seccomp()), which is recognised;
// a caller holding a copy must check has_seccomp() itself.
absl::StatusOr<std::optional<nlohmann::json>> SeccompForProfile(
    const runtime::v1::SecurityProfile& profile, const std::vector<std::string>& capabilities);

// The deprecated `seccomp_profile_path` string: "" or "unconfined" ->
// nullopt; "runtime/default" or "docker/default" -> RuntimeDefaultSeccomp;
// "localhost/<absolute path>" -> LocalhostSeccomp(path); anything else is
// InvalidArgument.
absl::StatusOr<std::optional<nlohmann::json>> SeccompForProfilePath(
    const std::string& path, const std::vector<std::string>& capabilities);

}  // namespace berth::cri
