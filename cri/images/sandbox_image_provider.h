#pragma once

#include "cri/images/image_service.h"
#include "cri/sandbox/sandbox_images.h"
#include "cri/store/metadata_store.h"
#include "snapshotter/snapshotter.h"

namespace berth::cri {

// SandboxImages over the CRI image service: pulls through it (so mirrors,
// credentials and single-flight pulls apply), pins through the store.
class SandboxImageProvider final : public SandboxImages {
 public:
  SandboxImageProvider(CriImageService& images, MetadataStore& store,
                       snapshotter::Snapshotter& snapshots)
      : images_(images), store_(store), snapshots_(snapshots) {}

  absl::StatusOr<PauseImage> Ensure(const std::string& reference) override;
  absl::StatusOr<std::vector<snapshotter::Mount>> View(const std::string& key,
                                                       const std::string& top_layer) override;
  absl::Status RemoveView(const std::string& key) override;

 private:
  CriImageService& images_;
  MetadataStore& store_;
  snapshotter::Snapshotter& snapshots_;
};

}  // namespace berth::cri
