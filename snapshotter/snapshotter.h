#pragma once

// Filesystem snapshots for image layers and container root filesystems,
// modelled on containerd's snapshotter: a snapshot is prepared (writable),
// committed (immutable, can be a parent), or a view (read-only). Mounts come
// back as data; mounting them is the caller's job.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "snapshotter/snapshot_catalog.h"

namespace berth::snapshotter {

struct Mount {
  std::string type;    // "overlay" or "bind"
  std::string source;  // "overlay" or the bound directory
  std::vector<std::string> options;
  // When set, the options name directories relative to it, and the mount
  // must be made from there (chdir first): an image with a hundred layers
  // has a lowerdir too long for the one page mount(2) accepts otherwise.
  std::string working_dir;

  bool operator==(const Mount&) const = default;
};

struct SnapshotUsage {
  int64_t bytes = 0;  // allocated blocks, hard links counted once
  int64_t inodes = 0;
};

class Snapshotter {
 public:
  virtual ~Snapshotter() = default;

  // A writable snapshot on top of committed `parent` (empty: an empty root).
  virtual absl::StatusOr<std::vector<Mount>> Prepare(const std::string& key,
                                                     const std::string& parent) = 0;
  // A read-only view of committed `parent`.
  virtual absl::StatusOr<std::vector<Mount>> View(const std::string& key,
                                                  const std::string& parent) = 0;
  // A writable, initially empty directory for unpacking one layer, to be
  // committed with `parent` recorded as the layer below. The parent need not
  // exist yet, so the layers of an image unpack in parallel; it must exist
  // before anything is stacked on the committed layer.
  virtual absl::StatusOr<std::string> PrepareLayer(const std::string& key,
                                                   const std::string& parent) = 0;
  virtual absl::StatusOr<std::vector<Mount>> Mounts(const std::string& key) const = 0;
  // Makes active `key` the committed snapshot `name`.
  virtual absl::Status Commit(const std::string& name, const std::string& key) = 0;
  // FailedPrecondition while other snapshots sit on it; absent is fine.
  virtual absl::Status Remove(const std::string& key) = 0;
  virtual absl::StatusOr<SnapshotInfo> Stat(const std::string& key) const = 0;
  virtual absl::StatusOr<std::vector<SnapshotInfo>> List() const = 0;
  virtual absl::StatusOr<SnapshotUsage> Usage(const std::string& key) const = 0;
};

}  // namespace berth::snapshotter
