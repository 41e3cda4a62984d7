#include "cri/images/metadata_snapshot_catalog.h"

#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

snapshotter::SnapshotInfo ToInfo(const SnapshotRecord& r) {
  return {r.id, r.key, r.parent, static_cast<snapshotter::SnapshotKind>(r.kind), r.created_at_ns};
}

SnapshotRecord ToRecord(const snapshotter::SnapshotInfo& i) {
  return {i.id, i.key, i.parent, static_cast<SnapshotKind>(i.kind), i.created_at_ns};
}

}  // namespace

absl::StatusOr<snapshotter::SnapshotInfo> MetadataSnapshotCatalog::Create(
    snapshotter::SnapshotInfo info) {
  SnapshotRecord created;
  RETURN_IF_ERROR(store_.Update([&](MetadataTables& t) -> absl::Status {
    ASSIGN_OR_RETURN(created, t.CreateSnapshot(ToRecord(info)));
    return absl::OkStatus();
  }));
  return ToInfo(created);
}

absl::StatusOr<snapshotter::SnapshotInfo> MetadataSnapshotCatalog::Get(
    const std::string& key) const {
  ASSIGN_OR_RETURN(SnapshotRecord record,
                   store_.Read([&](const MetadataTables& t) { return t.GetSnapshot(key); }));
  return ToInfo(record);
}

absl::StatusOr<std::vector<snapshotter::SnapshotInfo>> MetadataSnapshotCatalog::List() const {
  ASSIGN_OR_RETURN(std::vector<SnapshotRecord> records,
                   store_.Read([](const MetadataTables& t) { return t.ListSnapshots(); }));
  std::vector<snapshotter::SnapshotInfo> out;
  for (const SnapshotRecord& r : records) out.push_back(ToInfo(r));
  return out;
}

absl::Status MetadataSnapshotCatalog::Commit(const std::string& key, const std::string& name) {
  return store_.Update([&](MetadataTables& t) { return t.CommitSnapshot(key, name); });
}

absl::Status MetadataSnapshotCatalog::Delete(const std::string& key) {
  return store_.Update([&](MetadataTables& t) { return t.DeleteSnapshot(key); });
}

}  // namespace berth::cri
