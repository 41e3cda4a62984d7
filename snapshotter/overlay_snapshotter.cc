#include "snapshotter/overlay_snapshotter.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/disk_usage.h"
#include "snapshotter/tree_removal.h"

namespace berth::snapshotter {
namespace {

// One page, less room for options the mounter adds (index=off, ...).
constexpr size_t kMaxMountOptions = 4096 - 256;

}  // namespace

absl::StatusOr<std::unique_ptr<OverlaySnapshotter>> OverlaySnapshotter::Open(
    const std::string& root, SnapshotCatalog& catalog) {
  RETURN_IF_ERROR(MakeDirectories(root, 0700));
  std::unique_ptr<OverlaySnapshotter> snapshotter(new OverlaySnapshotter(root, catalog));
  RETURN_IF_ERROR(snapshotter->RemoveLeftovers());
  return snapshotter;
}

absl::Status OverlaySnapshotter::RemoveLeftovers() {
  ASSIGN_OR_RETURN(std::vector<SnapshotInfo> snapshots, catalog_.List());
  absl::flat_hash_set<int64_t> live;
  for (const SnapshotInfo& info : snapshots) {
    if (info.kind == SnapshotKind::kActive && absl::StartsWith(info.key, kExtractPrefix)) {
      RETURN_IF_ERROR(catalog_.Delete(info.key));
      continue;
    }
    live.insert(info.id);
  }
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(root_, error)) {
    int64_t id;
    if (absl::SimpleAtoi(entry.path().filename().string(), &id) && live.contains(id)) continue;
    RETURN_IF_ERROR(RemoveTree(entry.path().string()));
  }
  if (error) return absl::InternalError("list " + root_ + ": " + error.message());
  return absl::OkStatus();
}

std::string OverlaySnapshotter::SnapshotDir(int64_t id) const {
  return absl::StrCat(root_, "/", id);
}

std::string OverlaySnapshotter::FsPath(int64_t id) const {
  return absl::StrCat(root_, "/", id, "/fs");
}

absl::StatusOr<SnapshotInfo> OverlaySnapshotter::Create(const std::string& key,
                                                        const std::string& parent,
                                                        SnapshotKind kind, bool require_parent) {
  if (key.empty()) return absl::InvalidArgumentError("snapshot key is empty");
  if (require_parent && !parent.empty()) {
    ASSIGN_OR_RETURN(SnapshotInfo parent_info, catalog_.Get(parent));
    if (parent_info.kind != SnapshotKind::kCommitted) {
      return absl::FailedPreconditionError(
          absl::StrCat("parent snapshot ", parent, " is not committed"));
    }
  }
  SnapshotInfo info;
  info.key = key;
  info.parent = parent;
  info.kind = kind;
  info.created_at_ns = absl::ToUnixNanos(absl::Now());
  ASSIGN_OR_RETURN(info, catalog_.Create(std::move(info)));
  std::string dir = SnapshotDir(info.id);
  absl::Status status = MakeDirectories(dir + "/fs", 0755);
  if (status.ok() && kind == SnapshotKind::kActive && !parent.empty()) {
    status = MakeDirectories(dir + "/work", 0700);
  }
  if (!status.ok()) {
    catalog_.Delete(key).IgnoreError();
    RemoveTree(dir).IgnoreError();
    return status;
  }
  return info;
}

absl::StatusOr<std::vector<Mount>> OverlaySnapshotter::Prepare(const std::string& key,
                                                               const std::string& parent) {
  RETURN_IF_ERROR(Create(key, parent, SnapshotKind::kActive, /*require_parent=*/true).status());
  return Mounts(key);
}

absl::StatusOr<std::vector<Mount>> OverlaySnapshotter::View(const std::string& key,
                                                            const std::string& parent) {
  RETURN_IF_ERROR(Create(key, parent, SnapshotKind::kView, /*require_parent=*/true).status());
  return Mounts(key);
}

absl::StatusOr<std::string> OverlaySnapshotter::PrepareLayer(const std::string& key,
                                                             const std::string& parent) {
  ASSIGN_OR_RETURN(SnapshotInfo info,
                   Create(key, parent, SnapshotKind::kActive, /*require_parent=*/false));
  return FsPath(info.id);
}

absl::StatusOr<std::vector<std::string>> OverlaySnapshotter::LowerChain(
    const std::string& key) const {
  std::vector<std::string> chain;
  std::string current = key;
  while (!current.empty()) {
    absl::StatusOr<SnapshotInfo> info = catalog_.Get(current);
    if (!info.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("snapshot chain below ", key, " is broken: ", info.status().message()));
    }
    if (info->kind != SnapshotKind::kCommitted) {
      return absl::FailedPreconditionError(
          absl::StrCat("snapshot ", current, " below ", key, " is not committed"));
    }
    chain.push_back(FsPath(info->id));
    current = info->parent;
  }
  return chain;
}

absl::StatusOr<std::vector<Mount>> OverlaySnapshotter::Mounts(const std::string& key) const {
  ASSIGN_OR_RETURN(SnapshotInfo info, catalog_.Get(key));
  std::vector<std::string> lowers;
  bool writable = info.kind == SnapshotKind::kActive;
  if (info.kind == SnapshotKind::kCommitted) {
    ASSIGN_OR_RETURN(lowers, LowerChain(key));
  } else if (!info.parent.empty()) {
    ASSIGN_OR_RETURN(lowers, LowerChain(info.parent));
  }
  if (writable && lowers.empty()) {
    return std::vector<Mount>{{"bind", FsPath(info.id), {"rbind", "rw"}}};
  }
  if (!writable && lowers.size() <= 1) {
    std::string source = lowers.empty() ? FsPath(info.id) : lowers.front();
    return std::vector<Mount>{{"bind", source, {"rbind", "ro"}}};
  }
  auto overlay = [&](bool relative) {
    // Relative names are "<id>/fs", from the snapshots root.
    auto name = [&](const std::string& path) {
      return relative ? path.substr(root_.size() + 1) : path;
    };
    Mount mount{"overlay", "overlay", {}, relative ? root_ : ""};
    if (writable) {
      mount.options.push_back("workdir=" + name(SnapshotDir(info.id) + "/work"));
      mount.options.push_back("upperdir=" + name(FsPath(info.id)));
    }
    std::vector<std::string> lower_names;
    for (const std::string& lower : lowers) lower_names.push_back(name(lower));
    mount.options.push_back("lowerdir=" + absl::StrJoin(lower_names, ":"));
    return mount;
  };
  Mount absolute = overlay(false);
  // mount(2) takes at most a page of options.
  if (absl::StrJoin(absolute.options, ",").size() < kMaxMountOptions) {
    return std::vector<Mount>{std::move(absolute)};
  }
  return std::vector<Mount>{overlay(true)};
}

absl::Status OverlaySnapshotter::Commit(const std::string& name, const std::string& key) {
  ASSIGN_OR_RETURN(SnapshotInfo info, catalog_.Get(key));
  if (info.kind != SnapshotKind::kActive) {
    return absl::FailedPreconditionError(
        absl::StrCat("snapshot ", key, " is not active and cannot be committed"));
  }
  RETURN_IF_ERROR(catalog_.Commit(key, name));
  // Overlay's work directory has no use once nothing writes here.
  RemoveTree(SnapshotDir(info.id) + "/work").IgnoreError();
  return absl::OkStatus();
}

absl::Status OverlaySnapshotter::Remove(const std::string& key) {
  absl::StatusOr<SnapshotInfo> info = catalog_.Get(key);
  if (absl::IsNotFound(info.status())) return absl::OkStatus();
  if (!info.ok()) return info.status();
  ASSIGN_OR_RETURN(std::vector<SnapshotInfo> all, catalog_.List());
  for (const SnapshotInfo& other : all) {
    if (other.parent == key) {
      return absl::FailedPreconditionError(
          absl::StrCat("snapshot ", key, " is the parent of ", other.key));
    }
  }
  // Record first: a crash then leaves only a directory, which Open removes.
  RETURN_IF_ERROR(catalog_.Delete(key));
  {
    absl::MutexLock lock(&usage_mutex_);
    committed_usage_.erase(info->id);
  }
  return RemoveTree(SnapshotDir(info->id));
}

absl::StatusOr<SnapshotInfo> OverlaySnapshotter::Stat(const std::string& key) const {
  return catalog_.Get(key);
}

absl::StatusOr<std::vector<SnapshotInfo>> OverlaySnapshotter::List() const {
  return catalog_.List();
}

absl::StatusOr<SnapshotUsage> OverlaySnapshotter::Usage(const std::string& key) const {
  ASSIGN_OR_RETURN(SnapshotInfo info, catalog_.Get(key));
  if (info.kind == SnapshotKind::kCommitted) {
    absl::MutexLock lock(&usage_mutex_);
    if (auto it = committed_usage_.find(info.id); it != committed_usage_.end()) {
      return it->second;
    }
  }
  ASSIGN_OR_RETURN(SnapshotUsage usage, DiskUsage(FsPath(info.id)));
  if (info.kind == SnapshotKind::kCommitted) {
    absl::MutexLock lock(&usage_mutex_);
    committed_usage_[info.id] = usage;
  }
  return usage;
}

}  // namespace berth::snapshotter
