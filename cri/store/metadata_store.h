#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cri/store/metadata_tables.h"
#include "cri/store/sqlite_db.h"

namespace berth::cri {

struct MetadataStoreOptions {
  // Migrate only up to this version; tests use it to build older schemas.
  int target_version = -1;  // -1: the latest
};

// berthd's metadata (sandboxes, containers, images, snapshots) in SQLite at
// <root>/meta.db. Thread-safe: one connection, used by one caller at a time.
//
//   store->Update([&](MetadataTables& t) {
//     RETURN_IF_ERROR(t.CreateSandbox(sandbox));
//     return t.CreateContainer(container);   // both rows or neither
//   });
class MetadataStore {
 public:
  // Opens or creates the database and migrates it to the target version,
  // each migration in its own transaction. FailedPrecondition if the file
  // has a newer schema than this build knows.
  static absl::StatusOr<std::unique_ptr<MetadataStore>> Open(
      const std::string& path, const MetadataStoreOptions& options = {});

  // Runs `change` in one transaction: committed when it returns OK, rolled
  // back (nothing written) otherwise.
  absl::Status Update(const std::function<absl::Status(MetadataTables&)>& change);

  // Runs `read` against a consistent snapshot of the tables.
  template <typename Fn>
  auto Read(Fn read) -> decltype(read(std::declval<const MetadataTables&>())) {
    absl::MutexLock lock(&mutex_);
    const MetadataTables tables(db_);
    return read(tables);
  }

  int schema_version() const { return schema_version_; }
  // Runs SQLite's integrity check; DataLoss describing the damage if it fails.
  absl::Status CheckIntegrity();

 private:
  MetadataStore(SqliteDb db, int version) : db_(std::move(db)), schema_version_(version) {}

  absl::Mutex mutex_;
  SqliteDb db_ ABSL_GUARDED_BY(mutex_);
  int schema_version_;
};

}  // namespace berth::cri
