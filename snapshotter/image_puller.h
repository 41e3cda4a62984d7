#pragma once

// Pulls an image: resolves the reference to a manifest (through an index for
// the node's platform), stores manifest, config and layer blobs verified in
// the content store, and unpacks each layer into its own snapshot while it
// downloads. Layers fetch in parallel, each blob and each layer only once
// however many pulls want it at the same time.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "snapshotter/content_store.h"
#include "snapshotter/digest.h"
#include "snapshotter/layer_apply.h"
#include "snapshotter/manifest.h"
#include "snapshotter/reference.h"
#include "snapshotter/registry_client.h"
#include "snapshotter/single_flight.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshotter {

struct LayerContent {
  Descriptor blob;
  Digest diff_id;
  Digest chain_id;  // the snapshot key of this layer with everything below it
};

// What an image is made of: enough to find every blob and snapshot it uses.
struct ImageContent {
  Digest config_digest;  // the image id
  Digest manifest_digest;
  std::string manifest_media_type;
  std::optional<Digest> index_digest;  // when the reference named an index
  std::string config;                  // the image config JSON
  std::vector<LayerContent> layers;
  int64_t size = 0;  // manifest + config + compressed layers, as containerd counts
  std::string user;  // the config's User
  // Blobs kept with the image though it does not run them: the other
  // platforms of an imported multi-platform image.
  std::vector<Digest> retained;

  // The key of the topmost layer snapshot, the parent of a container's upper.
  std::string TopChainId() const;
  // Every blob digest the image references.
  std::vector<Digest> Blobs() const;
};

struct LayerProgress {
  Digest digest;
  int64_t total = 0;
  int64_t done = 0;
  bool finished = false;
  bool cached = false;  // already present; nothing downloaded
};

struct PullRequest {
  ImageReference ref;
  RegistryCredentials credentials;
  Platform platform = HostPlatform();
  bool unpack = true;
  // Called from download threads; must be thread-safe.
  std::function<void(const LayerProgress&)> progress;
};

struct ImagePullerOptions {
  int max_concurrent_layers = 3;
  // For every unpack: pulled layers and imported ones alike.
  LayerLimits layer_limits;
};

class ImagePuller {
 public:
  ImagePuller(ContentStore& content, Snapshotter& snapshots, RegistryClient& registry,
              ImagePullerOptions options = {})
      : content_(content), snapshots_(snapshots), registry_(registry), options_(options) {}

  absl::StatusOr<ImageContent> Pull(const PullRequest& request);

  // Unpacks the layers of an image whose blobs are all in the content store
  // (side-loaded images unpack on first use).
  absl::Status Unpack(const ImageContent& image);

  // Describes an image from a manifest whose config is in the store.
  absl::StatusOr<ImageContent> DescribeFromManifest(const Digest& manifest_digest,
                                                    const std::string& manifest,
                                                    std::optional<Digest> index_digest);

  // True when every layer of `image` has a committed snapshot.
  bool IsUnpacked(const ImageContent& image) const;

 private:
  absl::StatusOr<FetchedManifest> ResolveManifest(const PullRequest& request,
                                                  std::optional<Digest>& index_digest);
  absl::Status FetchSmallBlob(const PullRequest& request, const Descriptor& blob);
  absl::Status FetchLayers(const PullRequest* request, const ImageContent& image, bool unpack);
  absl::Status FetchLayer(const PullRequest* request, const LayerContent& layer,
                          const std::string& parent_chain_id, bool unpack);
  // `report` sends progress for it (layers; not the config).
  absl::Status DownloadBlob(const PullRequest& request, const Descriptor& blob, bool report = true);
  absl::Status DownloadAndUnpack(const PullRequest& request, const LayerContent& layer,
                                 const std::string& parent_chain_id);
  absl::Status UnpackStoredBlob(const LayerContent& layer, const std::string& parent_chain_id);
  absl::Status CommitLayer(const std::string& key, const LayerContent& layer);
  bool HasCommittedSnapshot(const Digest& chain_id) const;

  ContentStore& content_;
  Snapshotter& snapshots_;
  RegistryClient& registry_;
  ImagePullerOptions options_;
  SingleFlight<bool> layer_flights_;
  SingleFlight<bool> blob_flights_;
};

}  // namespace berth::snapshotter
