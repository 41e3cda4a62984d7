#pragma once

// ContainerImages over the CRI image service and the snapshotter.

#include "cri/container/container_images.h"
#include "cri/images/image_service.h"

namespace berth::cri {

class ContainerImageProvider final : public ContainerImages {
 public:
  ContainerImageProvider(CriImageService& images, snapshotter::Snapshotter& snapshots,
                         std::string snapshots_root)
      : images_(images), snapshots_(snapshots), snapshots_root_(std::move(snapshots_root)) {}

  absl::StatusOr<ResolvedImage> Resolve(const std::string& spec) override;
  absl::StatusOr<std::vector<snapshotter::Mount>> Prepare(const std::string& key,
                                                          const std::string& top_layer) override;
  absl::Status RemoveSnapshot(const std::string& key) override;
  absl::StatusOr<snapshotter::SnapshotUsage> Usage(const std::string& key) override;
  absl::StatusOr<std::vector<std::string>> SnapshotKeys(const std::string& prefix) override;
  std::string SnapshotsRoot() const override { return snapshots_root_; }

 private:
  CriImageService& images_;
  snapshotter::Snapshotter& snapshots_;
  std::string snapshots_root_;
};

}  // namespace berth::cri
