#include "cri/sandbox/pod_user_namespace.h"

#include <sys/stat.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "runtime/base/errno_status.h"

namespace berth::cri {
namespace {

absl::StatusOr<IdRange> OneRange(
    const google::protobuf::RepeatedPtrField<runtime::v1::IDMapping>& mappings, const char* kind) {
  if (mappings.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("user namespace: exactly one ", kind,
                                                   " mapping is supported, got ", mappings.size()));
  }
  const runtime::v1::IDMapping& m = mappings[0];
  if (m.container_id() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("user namespace: the ", kind,
                                                   " mapping must start at container id 0, not ",
                                                   m.container_id()));
  }
  if (m.length() == 0)
    return absl::InvalidArgumentError(absl::StrCat("user namespace: empty ", kind, " mapping"));
  if (m.host_id() == 0) {
    // The container's root would own the host's root-owned files.
    return absl::InvalidArgumentError(
        absl::StrCat("user namespace: the ", kind, " mapping must not include host id 0"));
  }
  if (uint64_t{m.host_id()} + m.length() > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(
        absl::StrCat("user namespace: the ", kind, " mapping runs past id 4294967295"));
  }
  return IdRange{.container_id = 0, .host_id = m.host_id(), .length = m.length()};
}

}  // namespace

absl::StatusOr<std::optional<PodUserNamespace>> PodUserNamespaceOf(
    const runtime::v1::NamespaceOption& namespaces) {
  if (!namespaces.has_userns_options()) return std::nullopt;
  const runtime::v1::UserNamespace& userns = namespaces.userns_options();
  switch (userns.mode()) {
    case runtime::v1::NODE:
      if (!userns.uids().empty() || !userns.gids().empty())
        return absl::InvalidArgumentError("user namespace mode NODE takes no mappings");
      return std::nullopt;
    case runtime::v1::POD: {
      absl::StatusOr<IdRange> uids = OneRange(userns.uids(), "uid");
      if (!uids.ok()) return uids.status();
      absl::StatusOr<IdRange> gids = OneRange(userns.gids(), "gid");
      if (!gids.ok()) return gids.status();
      return PodUserNamespace{.uids = *uids, .gids = *gids};
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("user namespace mode ", runtime::v1::NamespaceMode_Name(userns.mode()),
                       " is not supported: a pod has its own (POD) or the host's (NODE)"));
  }
}

absl::Status CheckCrossableByOthers(const std::string& state_dir) {
  std::string path;
  for (absl::string_view part : absl::StrSplit(state_dir, '/', absl::SkipEmpty())) {
    absl::StrAppend(&path, "/", part);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat " + path);
    if ((st.st_mode & S_IXOTH) == 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
      return absl::FailedPreconditionError(
          absl::StrCat("user namespaces: the pod's root cannot reach its rootfs under ", state_dir,
                       ": ", path, " has mode ", mode, " without o+x"));
    }
  }
  return absl::OkStatus();
}

nlohmann::json IdMappingsJson(const IdRange& range) {
  return nlohmann::json::array(
      {{{"containerID", range.container_id}, {"hostID", range.host_id}, {"size", range.length}}});
}

}  // namespace berth::cri
