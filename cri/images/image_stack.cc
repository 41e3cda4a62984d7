#include "cri/images/image_stack.h"

#include "absl/strings/str_cat.h"
#include "cri/config/registries_file.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {

absl::StatusOr<snapshotter::RegistryOptions> RegistryOptionsFrom(const BerthConfig& config) {
  snapshotter::RegistryOptions registry;
  ASSIGN_OR_RETURN(registry.hosts, LoadRegistriesFile(config.image.registries_file));
  absl::StatusOr<std::string> auth = ReadFileToString(config.image.auth_file);
  if (auth.ok()) {
    absl::StatusOr<absl::flat_hash_map<std::string, snapshotter::RegistryCredentials>> parsed =
        snapshotter::ParseCredentialsFile(*auth);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.image.auth_file, ": ", parsed.status().message()));
    }
    registry.credentials = *std::move(parsed);
  } else if (!absl::IsNotFound(auth.status())) {
    return auth.status();
  }
  registry.stall_timeout = config.image.stall_timeout;
  return registry;
}

absl::StatusOr<std::unique_ptr<ImageStack>> OpenImageStack(const BerthConfig& config,
                                                           MetadataStore& store, Metrics& metrics) {
  auto stack = std::make_unique<ImageStack>();
  ASSIGN_OR_RETURN(snapshotter::RegistryOptions registry, RegistryOptionsFrom(config));

  stack->catalog = std::make_unique<MetadataSnapshotCatalog>(store);
  std::string content_root = config.root + "/content";
  std::string snapshots_root = config.root + "/snapshots";
  ASSIGN_OR_RETURN(stack->content, snapshotter::LocalContentStore::Open(content_root));
  ASSIGN_OR_RETURN(stack->snapshots,
                   snapshotter::OverlaySnapshotter::Open(snapshots_root, *stack->catalog));
  stack->registry = std::make_unique<snapshotter::DistributionClient>(std::move(registry));
  snapshotter::ImagePullerOptions puller;
  puller.max_concurrent_layers = config.image.max_concurrent_downloads;
  puller.layer_limits = {config.image.max_layer_size, config.image.max_layer_entries};
  stack->puller = std::make_unique<snapshotter::ImagePuller>(*stack->content, *stack->snapshots,
                                                             *stack->registry, puller);
  stack->service = std::make_unique<CriImageService>(
      ImageServiceDeps{&store, stack->content.get(), stack->snapshots.get(), stack->puller.get(),
                       content_root, snapshots_root, &metrics});
  stack->berth_service = std::make_unique<BerthImagesService>(*stack->service);
  // A crash between storing blobs or layers and recording their image
  // leaves them unreferenced; nothing is in flight yet, so collect them now.
  RETURN_IF_ERROR(stack->service->CollectGarbage());
  return stack;
}

}  // namespace berth::cri
