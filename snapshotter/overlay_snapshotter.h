#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshotter {

// Snapshots as directories <root>/<id>/fs (+ <id>/work for overlay's use),
// stacked with overlayfs. Thread-safe as far as the catalog is.
class OverlaySnapshotter final : public Snapshotter {
 public:
  // Key prefix of the snapshots layers unpack into; a crash leaves them
  // behind half-written, and Open removes them.
  static constexpr char kExtractPrefix[] = "extract-";

  // Creates `root` and finishes what a crash left: removes unpack snapshots
  // that never committed and directories without a record.
  static absl::StatusOr<std::unique_ptr<OverlaySnapshotter>> Open(const std::string& root,
                                                                  SnapshotCatalog& catalog);

  absl::StatusOr<std::vector<Mount>> Prepare(const std::string& key,
                                             const std::string& parent) override;
  absl::StatusOr<std::vector<Mount>> View(const std::string& key,
                                          const std::string& parent) override;
  absl::StatusOr<std::string> PrepareLayer(const std::string& key,
                                           const std::string& parent) override;
  absl::StatusOr<std::vector<Mount>> Mounts(const std::string& key) const override;
  absl::Status Commit(const std::string& name, const std::string& key) override;
  absl::Status Remove(const std::string& key) override;
  absl::StatusOr<SnapshotInfo> Stat(const std::string& key) const override;
  absl::StatusOr<std::vector<SnapshotInfo>> List() const override;
  absl::StatusOr<SnapshotUsage> Usage(const std::string& key) const override;

  // <root>/<id>/fs
  std::string FsPath(int64_t id) const;

 private:
  OverlaySnapshotter(std::string root, SnapshotCatalog& catalog)
      : root_(std::move(root)), catalog_(catalog) {}

  absl::Status RemoveLeftovers();
  absl::StatusOr<SnapshotInfo> Create(const std::string& key, const std::string& parent,
                                      SnapshotKind kind, bool require_parent);
  // The fs directories of `key` and the committed snapshots below it, top first.
  absl::StatusOr<std::vector<std::string>> LowerChain(const std::string& key) const;
  std::string SnapshotDir(int64_t id) const;

  std::string root_;
  SnapshotCatalog& catalog_;
  mutable absl::Mutex usage_mutex_;
  // Committed snapshots never change, so their usage is computed once.
  mutable absl::flat_hash_map<int64_t, SnapshotUsage> committed_usage_
      ABSL_GUARDED_BY(usage_mutex_);
};

}  // namespace berth::snapshotter
