#pragma once

// Where snapshot records persist. berthd keeps them in its metadata store
// (one SQLite transaction per change); tests use an in-memory catalog.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::snapshotter {

enum class SnapshotKind : int32_t { kActive = 0, kCommitted = 1, kView = 2 };

struct SnapshotInfo {
  // Short numeric id: the snapshot lives in snapshots/<id>/, keeping overlay
  // mount options short. Assigned by the catalog.
  int64_t id = 0;
  std::string key;     // chain ID for a layer, the container id for an upper
  std::string parent;  // key of the snapshot below, empty for a base layer
  SnapshotKind kind = SnapshotKind::kActive;
  int64_t created_at_ns = 0;

  bool operator==(const SnapshotInfo&) const = default;
};

class SnapshotCatalog {
 public:
  virtual ~SnapshotCatalog() = default;
  // Stores `info` with a fresh id. AlreadyExists for a taken key.
  virtual absl::StatusOr<SnapshotInfo> Create(SnapshotInfo info) = 0;
  // NotFound for an unknown key.
  virtual absl::StatusOr<SnapshotInfo> Get(const std::string& key) const = 0;
  virtual absl::StatusOr<std::vector<SnapshotInfo>> List() const = 0;
  // Renames active `key` to `name` and marks it committed, in one step.
  // AlreadyExists when `name` is taken.
  virtual absl::Status Commit(const std::string& key, const std::string& name) = 0;
  // Deleting an absent key succeeds.
  virtual absl::Status Delete(const std::string& key) = 0;
};

}  // namespace berth::snapshotter
