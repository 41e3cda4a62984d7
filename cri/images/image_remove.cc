// RemoveImage and the garbage collection that follows it.

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cri/grpc_status.h"
#include "cri/images/image_content_json.h"
#include "cri/images/image_service.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/overlay_snapshotter.h"
#include "snapshotter/reference.h"
#include "spdlog/spdlog.h"

namespace berth::cri {

// An image id removes the image with all its names; a tag or digest removes
// that name, and the image with it once no tag is left.
absl::Status CriImageService::Remove(const std::string& spec) {
  absl::StatusOr<ImageRecord> image = ResolveImage(spec);
  // Removing what is already gone succeeds: kubelet retries removals.
  if (absl::IsNotFound(image.status())) return absl::OkStatus();
  RETURN_IF_ERROR(image.status());
  bool by_id =
      snapshotter::LooksLikeImageId(spec) && (image->id == spec || image->id == "sha256:" + spec);
  std::string name;
  if (!by_id) {
    ASSIGN_OR_RETURN(snapshotter::ImageReference ref, snapshotter::ParseImageReference(spec));
    name = ref.digest ? ref.DigestName() : ref.TagName();
  }
  RETURN_IF_ERROR(deps_.store->Update([&](MetadataTables& t) -> absl::Status {
    if (by_id) return t.DeleteImage(image->id);
    RETURN_IF_ERROR(t.RemoveImageName(name));
    for (const std::string& other : image->names) {
      if (other != name && !absl::StrContains(other, '@')) return absl::OkStatus();
    }
    return t.DeleteImage(image->id);
  }));
  return CollectGarbage();
}

absl::Status CriImageService::CollectGarbage() {
  absl::WriterMutexLock gc_lock(&gc_mutex_);
  return CollectGarbageLocked();
}

void CriImageService::CollectGarbageIfIdle() {
  if (!gc_mutex_.WriterTryLock()) return;  // other pulls are running; a later collection will do
  absl::Status status = CollectGarbageLocked();
  gc_mutex_.WriterUnlock();
  if (!status.ok()) spdlog::warn("garbage collection after a failure: {}", status.ToString());
}

absl::Status CriImageService::CollectGarbageLocked() {
  ASSIGN_OR_RETURN(std::vector<ImageRecord> images,
                   deps_.store->Read([](const MetadataTables& t) { return t.ListImages(); }));
  absl::flat_hash_set<snapshotter::Digest> live_blobs;
  absl::flat_hash_set<std::string> live_snapshots;
  for (const ImageRecord& image : images) {
    absl::StatusOr<snapshotter::ImageContent> content =
        ImageContentFromJson(image.extra, image.config);
    if (!content.ok()) {
      // Without knowing what the image uses, nothing can be collected safely.
      return absl::DataLossError(
          absl::StrCat("image ", image.id, ": ", content.status().message()));
    }
    for (const snapshotter::Digest& blob : content->Blobs()) live_blobs.insert(blob);
    for (const snapshotter::LayerContent& layer : content->layers) {
      live_snapshots.insert(layer.chain_id.ToString());
    }
  }

  ASSIGN_OR_RETURN(std::vector<snapshotter::Digest> blobs, deps_.content->List());
  int removed_blobs = 0;
  for (const snapshotter::Digest& blob : blobs) {
    if (live_blobs.contains(blob)) continue;
    RETURN_IF_ERROR(deps_.content->Delete(blob));
    ++removed_blobs;
  }

  // Container uppers and views keep the layers under them.
  ASSIGN_OR_RETURN(std::vector<snapshotter::SnapshotInfo> snapshots, deps_.snapshots->List());
  absl::flat_hash_map<std::string, std::string> parent_of;
  for (const snapshotter::SnapshotInfo& s : snapshots) parent_of[s.key] = s.parent;
  for (const snapshotter::SnapshotInfo& s : snapshots) {
    if (s.kind == snapshotter::SnapshotKind::kCommitted) continue;
    for (std::string p = s.parent; !p.empty() && live_snapshots.insert(p).second;) {
      auto it = parent_of.find(p);
      p = it == parent_of.end() ? "" : it->second;
    }
  }
  // Remove unused committed layers top-down: a parent goes once its children have.
  int removed_snapshots = 0;
  for (bool progress = true; progress;) {
    progress = false;
    absl::flat_hash_set<std::string> has_children;
    for (const auto& [key, parent] : parent_of) {
      if (!parent.empty()) has_children.insert(parent);
    }
    for (const snapshotter::SnapshotInfo& s : snapshots) {
      if (s.kind != snapshotter::SnapshotKind::kCommitted || live_snapshots.contains(s.key) ||
          has_children.contains(s.key) || !parent_of.contains(s.key)) {
        continue;
      }
      RETURN_IF_ERROR(deps_.snapshots->Remove(s.key));
      parent_of.erase(s.key);
      ++removed_snapshots;
      progress = true;
    }
  }
  if (removed_blobs > 0 || removed_snapshots > 0) {
    spdlog::info("garbage collection removed {} blobs and {} snapshots", removed_blobs,
                 removed_snapshots);
  }
  return absl::OkStatus();
}

grpc::Status CriImageService::RemoveImage(grpc::ServerContext*,
                                          const runtime::v1::RemoveImageRequest* request,
                                          runtime::v1::RemoveImageResponse*) {
  return ToGrpcStatus(Remove(request->image().image()));
}

}  // namespace berth::cri
