#pragma once

// A SnapshotCatalog in memory, for tests of the snapshotter and puller
// without berthd's metadata store.

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "snapshotter/snapshot_catalog.h"

namespace berth::testing {

class MemorySnapshotCatalog final : public snapshotter::SnapshotCatalog {
 public:
  using SnapshotInfo = snapshotter::SnapshotInfo;

  absl::StatusOr<SnapshotInfo> Create(SnapshotInfo info) override {
    absl::MutexLock lock(&mutex_);
    if (snapshots_.contains(info.key)) {
      return absl::AlreadyExistsError(absl::StrCat("snapshot ", info.key, " exists"));
    }
    info.id = ++last_id_;
    snapshots_[info.key] = info;
    return info;
  }
  absl::StatusOr<SnapshotInfo> Get(const std::string& key) const override {
    absl::MutexLock lock(&mutex_);
    auto it = snapshots_.find(key);
    if (it == snapshots_.end()) return absl::NotFoundError(absl::StrCat("snapshot ", key));
    return it->second;
  }
  absl::StatusOr<std::vector<SnapshotInfo>> List() const override {
    absl::MutexLock lock(&mutex_);
    std::vector<SnapshotInfo> out;
    for (const auto& [key, info] : snapshots_) out.push_back(info);
    return out;
  }
  absl::Status Commit(const std::string& key, const std::string& name) override {
    absl::MutexLock lock(&mutex_);
    auto it = snapshots_.find(key);
    if (it == snapshots_.end()) return absl::NotFoundError(absl::StrCat("snapshot ", key));
    if (snapshots_.contains(name)) return absl::AlreadyExistsError(absl::StrCat("snapshot ", name));
    SnapshotInfo info = it->second;
    snapshots_.erase(it);
    info.key = name;
    info.kind = snapshotter::SnapshotKind::kCommitted;
    snapshots_[name] = info;
    return absl::OkStatus();
  }
  absl::Status Delete(const std::string& key) override {
    absl::MutexLock lock(&mutex_);
    snapshots_.erase(key);
    return absl::OkStatus();
  }

 private:
  mutable absl::Mutex mutex_;
  std::map<std::string, SnapshotInfo> snapshots_;
  int64_t last_id_ = 0;
};

}  // namespace berth::testing
