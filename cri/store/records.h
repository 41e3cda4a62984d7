#pragma once

// The rows berthd persists. Protocol-level detail (the CRI configs) is kept
// as serialized protobuf bytes so the store need not change when the CRI
// grows a field; `extra` holds JSON for state a module adds later.

#include <cstdint>
#include <string>
#include <vector>

namespace berth::cri {

struct SandboxRecord {
  std::string id;
  // Unique among sandboxes: <name>_<namespace>_<uid>_<attempt>, as kubelet expects.
  std::string name;
  int32_t state = 0;  // runtime.v1.PodSandboxState
  int64_t created_at_ns = 0;
  std::string runtime_handler;
  std::string netns_path;
  std::string config;  // serialized runtime.v1.PodSandboxConfig
  std::string extra;

  bool operator==(const SandboxRecord&) const = default;
};

struct ContainerRecord {
  std::string id;
  std::string sandbox_id;
  // Unique among containers: <name>_<sandbox name>_<attempt>.
  std::string name;
  int32_t state = 0;  // runtime.v1.ContainerState
  int64_t created_at_ns = 0;
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
  int32_t exit_code = 0;
  std::string image_id;
  std::string snapshot_key;
  std::string log_path;
  std::string config;  // serialized runtime.v1.ContainerConfig
  std::string extra;

  bool operator==(const ContainerRecord&) const = default;
};

struct ImageRecord {
  std::string id;  // digest of the image config, "sha256:<hex>"
  // References naming this image: tags ("repo:tag") and digests ("repo@sha256:...").
  // A reference names at most one image.
  std::vector<std::string> names;
  int64_t size = 0;
  bool pinned = false;
  int64_t created_at_ns = 0;
  std::string config;  // the OCI image config JSON
  std::string extra;   // JSON: manifest, layers and chain IDs (cri/images/image_content_json)

  bool operator==(const ImageRecord&) const = default;
};

enum class SnapshotKind : int32_t { kActive = 0, kCommitted = 1, kView = 2 };

struct SnapshotRecord {
  // Short numeric id; the snapshot lives in snapshots/<id>/fs, keeping
  // overlay mount options short. Assigned by the store on create.
  int64_t id = 0;
  std::string key;     // chain ID for layers, the container id for uppers
  std::string parent;  // key of the parent snapshot, empty for a base layer
  SnapshotKind kind = SnapshotKind::kActive;
  int64_t created_at_ns = 0;

  bool operator==(const SnapshotRecord&) const = default;
};

}  // namespace berth::cri
