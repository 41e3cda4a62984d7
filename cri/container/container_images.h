#pragma once

// What containers need of the image store: the image a config names, and
// writable snapshots on its layers. An interface, so the container module
// does not depend on the image service (cri/images/container_image_provider.h
// implements it) and tests can fake it.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "snapshotter/snapshotter.h"

namespace berth::cri {

struct ResolvedImage {
  std::string id;           // sha256:<hex> of the config
  std::string digest_ref;   // repo@sha256:<manifest digest>, else the id
  std::string config_json;  // the OCI image config
  std::string top_layer;    // the snapshot the container's upper stacks on
};

class ContainerImages {
 public:
  virtual ~ContainerImages() = default;
  // The image `spec` names (id, tag or digest), unpacked. NotFound when
  // the node does not have it: kubelet pulls before it creates.
  virtual absl::StatusOr<ResolvedImage> Resolve(const std::string& spec) = 0;
  // A writable snapshot `key` on `top_layer`.
  virtual absl::StatusOr<std::vector<snapshotter::Mount>> Prepare(const std::string& key,
                                                                  const std::string& top_layer) = 0;
  // Succeeds when it is already gone.
  virtual absl::Status RemoveSnapshot(const std::string& key) = 0;
  virtual absl::StatusOr<snapshotter::SnapshotUsage> Usage(const std::string& key) = 0;
  // Keys of the snapshots whose key starts with `prefix`, for the cleanup
  // of what a crash left.
  virtual absl::StatusOr<std::vector<std::string>> SnapshotKeys(const std::string& prefix) = 0;
  // The filesystem holding the snapshots, for the stats' fs ids.
  virtual std::string SnapshotsRoot() const = 0;
};

}  // namespace berth::cri
