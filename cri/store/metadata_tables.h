#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cri/store/records.h"
#include "cri/store/sqlite_db.h"

namespace berth::cri {

// Typed reads and writes of the metadata tables on one connection. Reached
// only through MetadataStore::Read/Update, which serialize access and wrap
// each Update in a transaction.
//
// Errors: NotFound for an unknown id, AlreadyExists for a duplicate id or
// name. Deletes of absent rows succeed (callers rely on that for idempotent
// CRI removes).
class MetadataTables {
 public:
  explicit MetadataTables(SqliteDb& db) : db_(db) {}

  absl::Status CreateSandbox(const SandboxRecord& sandbox);
  absl::Status UpdateSandbox(const SandboxRecord& sandbox);
  absl::StatusOr<SandboxRecord> GetSandbox(const std::string& id) const;
  absl::StatusOr<std::vector<SandboxRecord>> ListSandboxes() const;
  // Also deletes the sandbox's containers.
  absl::Status DeleteSandbox(const std::string& id);

  // The sandbox must exist (FailedPrecondition otherwise).
  absl::Status CreateContainer(const ContainerRecord& container);
  absl::Status UpdateContainer(const ContainerRecord& container);
  absl::StatusOr<ContainerRecord> GetContainer(const std::string& id) const;
  absl::StatusOr<std::vector<ContainerRecord>> ListContainers() const;
  absl::Status DeleteContainer(const std::string& id);

  // Creates or replaces the image; its names are taken from any image that had them.
  absl::Status PutImage(const ImageRecord& image);
  absl::StatusOr<ImageRecord> GetImage(const std::string& id) const;
  // The image a reference (tag or digest) names.
  absl::StatusOr<ImageRecord> FindImageByName(const std::string& name) const;
  absl::StatusOr<std::vector<ImageRecord>> ListImages() const;
  absl::Status RemoveImageName(const std::string& name);
  absl::Status DeleteImage(const std::string& id);

  // Assigns snapshot.id and returns the stored record.
  absl::StatusOr<SnapshotRecord> CreateSnapshot(SnapshotRecord snapshot);
  absl::Status UpdateSnapshot(const SnapshotRecord& snapshot);
  absl::StatusOr<SnapshotRecord> GetSnapshot(const std::string& key) const;
  absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots() const;
  // Renames `key` to `name` and marks it committed; AlreadyExists if `name` is taken.
  absl::Status CommitSnapshot(const std::string& key, const std::string& name);
  absl::Status DeleteSnapshot(const std::string& key);

 private:
  absl::Status RequireOneChange(absl::string_view kind, const std::string& id) const;
  absl::StatusOr<std::vector<std::string>> ImageNames(const std::string& image_id) const;
  absl::StatusOr<std::vector<ImageRecord>> QueryImages(absl::string_view sql,
                                                       const std::string& arg) const;

  SqliteDb& db_;
};

}  // namespace berth::cri
