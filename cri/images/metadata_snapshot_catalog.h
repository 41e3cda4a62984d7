#pragma once

#include "cri/store/metadata_store.h"
#include "snapshotter/snapshot_catalog.h"

namespace berth::cri {

// Keeps the snapshotter's records in berthd's metadata store, so images,
// containers and the snapshots under them change in one database.
class MetadataSnapshotCatalog final : public snapshotter::SnapshotCatalog {
 public:
  explicit MetadataSnapshotCatalog(MetadataStore& store) : store_(store) {}

  absl::StatusOr<snapshotter::SnapshotInfo> Create(snapshotter::SnapshotInfo info) override;
  absl::StatusOr<snapshotter::SnapshotInfo> Get(const std::string& key) const override;
  absl::StatusOr<std::vector<snapshotter::SnapshotInfo>> List() const override;
  absl::Status Commit(const std::string& key, const std::string& name) override;
  absl::Status Delete(const std::string& key) override;

 private:
  MetadataStore& store_;
};

}  // namespace berth::cri
