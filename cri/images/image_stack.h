#pragma once

#include <memory>

#include "cri/config/config.h"
#include "cri/images/berth_images_service.h"
#include "cri/images/image_service.h"
#include "cri/images/metadata_snapshot_catalog.h"
#include "cri/metrics/metrics.h"
#include "snapshotter/content_store.h"
#include "snapshotter/image_puller.h"
#include "snapshotter/overlay_snapshotter.h"
#include "snapshotter/registry_client.h"

namespace berth::cri {

// Everything behind the ImageService, built from the config:
// <root>/content, <root>/snapshots, the registry client and the puller.
struct ImageStack {
  std::unique_ptr<MetadataSnapshotCatalog> catalog;
  std::unique_ptr<snapshotter::LocalContentStore> content;
  std::unique_ptr<snapshotter::OverlaySnapshotter> snapshots;
  std::unique_ptr<snapshotter::DistributionClient> registry;
  std::unique_ptr<snapshotter::ImagePuller> puller;
  std::unique_ptr<CriImageService> service;
  std::unique_ptr<BerthImagesService> berth_service;  // berth.v1.Images
};

// Mirrors, TLS and plain-HTTP settings (image.registries_file), credentials
// (image.auth_file) and the stall timeout, as the registry client takes them.
absl::StatusOr<snapshotter::RegistryOptions> RegistryOptionsFrom(const BerthConfig& config);

// Also finishes what a crash left: partial downloads and unpacks are removed.
absl::StatusOr<std::unique_ptr<ImageStack>> OpenImageStack(const BerthConfig& config,
                                                           MetadataStore& store,
                                                           Metrics& metrics = NoMetrics());

}  // namespace berth::cri
