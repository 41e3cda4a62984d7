#pragma once

// The pause image from a registry (config `sandbox_image`), for nodes that
// want e.g. registry.k8s.io/pause:3.10 rather than the built-in berth-pause.
// An interface, so the sandbox module does not depend on the image service
// (cri/images/sandbox_image_provider.h implements it) and tests can fake it.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "snapshotter/snapshotter.h"

namespace berth::cri {

struct PauseImage {
  std::string image_id;
  std::string top_layer;          // the snapshot a pod's rootfs view stacks on
  std::vector<std::string> args;  // Entrypoint then Cmd
  std::vector<std::string> env;
  std::string cwd = "/";
  uint32_t uid = 65535, gid = 65535;  // a numeric User, else the pause images' 65535
};

class SandboxImages {
 public:
  virtual ~SandboxImages() = default;
  // Pulls `reference` unless the node has it, pins it (kubelet's image GC
  // never removes pinned images), and describes how to run it.
  virtual absl::StatusOr<PauseImage> Ensure(const std::string& reference) = 0;
  // A read-only view of the image's layers under snapshot `key`.
  virtual absl::StatusOr<std::vector<snapshotter::Mount>> View(const std::string& key,
                                                               const std::string& top_layer) = 0;
  // Removes the view; succeeds when it is already gone.
  virtual absl::Status RemoveView(const std::string& key) = 0;
};

}  // namespace berth::cri
