#include "cri/store/metadata_store.h"

#include "absl/strings/str_cat.h"
#include "cri/store/schema.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

absl::StatusOr<int> ReadSchemaVersion(SqliteDb& db) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool has_row, stmt.Step());
  if (!has_row) return absl::InternalError("PRAGMA user_version returned nothing");
  return static_cast<int>(stmt.ColumnInt(0));
}

absl::Status Migrate(SqliteDb& db, int from, int to) {
  const auto& migrations = SchemaMigrations();
  for (int version = from; version < to; ++version) {
    // The DDL and the version bump commit together, so a crash mid-migration
    // leaves the previous version intact and the next start retries.
    RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    absl::Status status = db.Exec(migrations[version]);
    if (status.ok()) status = db.Exec(absl::StrCat("PRAGMA user_version = ", version + 1));
    if (status.ok()) status = db.Exec("COMMIT");
    if (!status.ok()) {
      db.Exec("ROLLBACK").IgnoreError();
      return absl::Status(status.code(), absl::StrCat("migrate ", db.path(), " to schema version ",
                                                      version + 1, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::Open(
    const std::string& path, const MetadataStoreOptions& options) {
  const int latest = LatestSchemaVersion();
  const int target = options.target_version < 0 ? latest : options.target_version;
  if (target > latest) {
    return absl::InvalidArgumentError(absl::StrCat("schema version ", target, " does not exist"));
  }
  ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path));
  ASSIGN_OR_RETURN(int version, ReadSchemaVersion(db));
  if (version > latest) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " has schema version ", version, ", newer than this berthd supports (",
                     latest, "); run a newer berthd or move the file away"));
  }
  if (version < target) {
    RETURN_IF_ERROR(Migrate(db, version, target));
    version = target;
  }
  return std::unique_ptr<MetadataStore>(new MetadataStore(std::move(db), version));
}

absl::Status MetadataStore::Update(const std::function<absl::Status(MetadataTables&)>& change) {
  absl::MutexLock lock(&mutex_);
  RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  MetadataTables tables(db_);
  absl::Status status = change(tables);
  if (status.ok()) status = db_.Exec("COMMIT");
  if (!status.ok()) db_.Exec("ROLLBACK").IgnoreError();
  return status;
}

absl::Status MetadataStore::CheckIntegrity() {
  absl::MutexLock lock(&mutex_);
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare("PRAGMA integrity_check"));
  std::string problems;
  for (;;) {
    ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row) break;
    std::string line = stmt.ColumnText(0);
    if (line != "ok") absl::StrAppend(&problems, problems.empty() ? "" : "; ", line);
  }
  if (!problems.empty()) return absl::DataLossError(absl::StrCat(db_.path(), ": ", problems));
  return absl::OkStatus();
}

}  // namespace berth::cri
