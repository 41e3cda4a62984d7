#include "cri/images/container_image_provider.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cri/images/image_content_json.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {

absl::StatusOr<ResolvedImage> ContainerImageProvider::Resolve(const std::string& spec) {
  absl::StatusOr<ImageRecord> image = images_.ResolveImage(spec);
  if (absl::IsNotFound(image.status()))
    return absl::NotFoundError(absl::StrCat("image \"", spec, "\" is not on this node"));
  RETURN_IF_ERROR(image.status());
  RETURN_IF_ERROR(images_.EnsureUnpacked(*image));
  ASSIGN_OR_RETURN(snapshotter::ImageContent content,
                   ImageContentFromJson(image->extra, image->config));
  ResolvedImage resolved{.id = image->id,
                         .digest_ref = image->id,
                         .config_json = image->config,
                         .top_layer = content.TopChainId()};
  for (const std::string& name : image->names) {
    if (absl::StrContains(name, "@sha256:")) {
      resolved.digest_ref = name;
      break;
    }
  }
  return resolved;
}

absl::StatusOr<std::vector<snapshotter::Mount>> ContainerImageProvider::Prepare(
    const std::string& key, const std::string& top_layer) {
  return snapshots_.Prepare(key, top_layer);
}

absl::Status ContainerImageProvider::RemoveSnapshot(const std::string& key) {
  absl::Status removed = snapshots_.Remove(key);
  if (absl::IsNotFound(removed)) return absl::OkStatus();
  return removed;
}

absl::StatusOr<snapshotter::SnapshotUsage> ContainerImageProvider::Usage(const std::string& key) {
  return snapshots_.Usage(key);
}

absl::StatusOr<std::vector<std::string>> ContainerImageProvider::SnapshotKeys(
    const std::string& prefix) {
  ASSIGN_OR_RETURN(std::vector<snapshotter::SnapshotInfo> all, snapshots_.List());
  std::vector<std::string> keys;
  for (const snapshotter::SnapshotInfo& info : all)
    if (absl::StartsWith(info.key, prefix)) keys.push_back(info.key);
  return keys;
}

}  // namespace berth::cri
