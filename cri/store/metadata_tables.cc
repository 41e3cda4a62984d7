#include "cri/store/metadata_tables.h"

#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

constexpr absl::string_view kSandboxColumns =
    "id, name, state, created_at_ns, runtime_handler, netns_path, config, extra";
constexpr absl::string_view kContainerColumns =
    "id, sandbox_id, name, state, created_at_ns, started_at_ns, finished_at_ns, exit_code, "
    "image_id, snapshot_key, log_path, config, extra";
constexpr absl::string_view kSnapshotColumns = "id, key, parent, kind, created_at_ns";

void BindSandbox(SqliteStatement& stmt, const SandboxRecord& s) {
  stmt.Bind(1, s.id).Bind(2, s.name).Bind(3, s.state).Bind(4, s.created_at_ns);
  stmt.Bind(5, s.runtime_handler).Bind(6, s.netns_path).BindBlob(7, s.config).Bind(8, s.extra);
}

SandboxRecord ReadSandbox(const SqliteStatement& stmt) {
  return SandboxRecord{.id = stmt.ColumnText(0),
                       .name = stmt.ColumnText(1),
                       .state = static_cast<int32_t>(stmt.ColumnInt(2)),
                       .created_at_ns = stmt.ColumnInt(3),
                       .runtime_handler = stmt.ColumnText(4),
                       .netns_path = stmt.ColumnText(5),
                       .config = stmt.ColumnBlob(6),
                       .extra = stmt.ColumnText(7)};
}

void BindContainer(SqliteStatement& stmt, const ContainerRecord& c) {
  stmt.Bind(1, c.id).Bind(2, c.sandbox_id).Bind(3, c.name).Bind(4, c.state);
  stmt.Bind(5, c.created_at_ns).Bind(6, c.started_at_ns).Bind(7, c.finished_at_ns);
  stmt.Bind(8, c.exit_code).Bind(9, c.image_id).Bind(10, c.snapshot_key).Bind(11, c.log_path);
  stmt.BindBlob(12, c.config).Bind(13, c.extra);
}

ContainerRecord ReadContainer(const SqliteStatement& stmt) {
  return ContainerRecord{.id = stmt.ColumnText(0),
                         .sandbox_id = stmt.ColumnText(1),
                         .name = stmt.ColumnText(2),
                         .state = static_cast<int32_t>(stmt.ColumnInt(3)),
                         .created_at_ns = stmt.ColumnInt(4),
                         .started_at_ns = stmt.ColumnInt(5),
                         .finished_at_ns = stmt.ColumnInt(6),
                         .exit_code = static_cast<int32_t>(stmt.ColumnInt(7)),
                         .image_id = stmt.ColumnText(8),
                         .snapshot_key = stmt.ColumnText(9),
                         .log_path = stmt.ColumnText(10),
                         .config = stmt.ColumnBlob(11),
                         .extra = stmt.ColumnText(12)};
}

SnapshotRecord ReadSnapshot(const SqliteStatement& stmt) {
  return SnapshotRecord{.id = stmt.ColumnInt(0),
                        .key = stmt.ColumnText(1),
                        .parent = stmt.ColumnText(2),
                        .kind = static_cast<SnapshotKind>(stmt.ColumnInt(3)),
                        .created_at_ns = stmt.ColumnInt(4)};
}

// Runs a query and collects every row through `read`.
template <typename Record, typename Reader>
absl::StatusOr<std::vector<Record>> Collect(SqliteStatement& stmt, Reader read) {
  std::vector<Record> rows;
  for (;;) {
    ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row) return rows;
    rows.push_back(read(stmt));
  }
}

// Runs a query expected to return one row.
template <typename Record, typename Reader>
absl::StatusOr<Record> One(SqliteStatement& stmt, Reader read, absl::string_view kind,
                           const std::string& id) {
  ASSIGN_OR_RETURN(bool has_row, stmt.Step());
  if (!has_row) return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
  return read(stmt);
}

}  // namespace

absl::Status MetadataTables::RequireOneChange(absl::string_view kind, const std::string& id) const {
  if (db_.ChangedRows() == 0) return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
  return absl::OkStatus();
}

// --- sandboxes ---

absl::Status MetadataTables::CreateSandbox(const SandboxRecord& sandbox) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare(absl::StrCat("INSERT INTO sandboxes (", kSandboxColumns,
                                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")));
  BindSandbox(stmt, sandbox);
  return stmt.Run();
}

absl::Status MetadataTables::UpdateSandbox(const SandboxRecord& sandbox) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare("UPDATE sandboxes SET name = ?2, state = ?3, created_at_ns = ?4, "
                               "runtime_handler = ?5, netns_path = ?6, config = ?7, extra = ?8 "
                               "WHERE id = ?1"));
  BindSandbox(stmt, sandbox);
  RETURN_IF_ERROR(stmt.Run());
  return RequireOneChange("sandbox", sandbox.id);
}

absl::StatusOr<SandboxRecord> MetadataTables::GetSandbox(const std::string& id) const {
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db_.Prepare(absl::StrCat("SELECT ", kSandboxColumns, " FROM sandboxes WHERE id = ?1")));
  stmt.Bind(1, id);
  return One<SandboxRecord>(stmt, ReadSandbox, "sandbox", id);
}

absl::StatusOr<std::vector<SandboxRecord>> MetadataTables::ListSandboxes() const {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare(absl::StrCat("SELECT ", kSandboxColumns,
                                            " FROM sandboxes ORDER BY created_at_ns, id")));
  return Collect<SandboxRecord>(stmt, ReadSandbox);
}

absl::Status MetadataTables::DeleteSandbox(const std::string& id) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare("DELETE FROM sandboxes WHERE id = ?1"));
  stmt.Bind(1, id);
  return stmt.Run();
}

// --- containers ---

absl::Status MetadataTables::CreateContainer(const ContainerRecord& container) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare(absl::StrCat("INSERT INTO containers (", kContainerColumns,
                                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                                            "?11, ?12, ?13)")));
  BindContainer(stmt, container);
  absl::Status status = stmt.Run();
  if (absl::IsFailedPrecondition(status)) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", container.id, ": sandbox ", container.sandbox_id, " not found"));
  }
  return status;
}

absl::Status MetadataTables::UpdateContainer(const ContainerRecord& container) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare("UPDATE containers SET sandbox_id = ?2, name = ?3, state = ?4, "
                               "created_at_ns = ?5, started_at_ns = ?6, finished_at_ns = ?7, "
                               "exit_code = ?8, image_id = ?9, snapshot_key = ?10, log_path = ?11, "
                               "config = ?12, extra = ?13 WHERE id = ?1"));
  BindContainer(stmt, container);
  RETURN_IF_ERROR(stmt.Run());
  return RequireOneChange("container", container.id);
}

absl::StatusOr<ContainerRecord> MetadataTables::GetContainer(const std::string& id) const {
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db_.Prepare(absl::StrCat("SELECT ", kContainerColumns, " FROM containers WHERE id = ?1")));
  stmt.Bind(1, id);
  return One<ContainerRecord>(stmt, ReadContainer, "container", id);
}

absl::StatusOr<std::vector<ContainerRecord>> MetadataTables::ListContainers() const {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare(absl::StrCat("SELECT ", kContainerColumns,
                                            " FROM containers ORDER BY created_at_ns, id")));
  return Collect<ContainerRecord>(stmt, ReadContainer);
}

absl::Status MetadataTables::DeleteContainer(const std::string& id) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare("DELETE FROM containers WHERE id = ?1"));
  stmt.Bind(1, id);
  return stmt.Run();
}

// --- images ---

absl::Status MetadataTables::PutImage(const ImageRecord& image) {
  ASSIGN_OR_RETURN(
      SqliteStatement upsert,
      db_.Prepare("INSERT INTO images (id, size, pinned, created_at_ns, config, extra) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET "
                  "size = ?2, pinned = ?3, created_at_ns = ?4, config = ?5, "
                  "extra = ?6"));
  upsert.Bind(1, image.id).Bind(2, image.size).Bind(3, image.pinned ? 1 : 0);
  upsert.Bind(4, image.created_at_ns).BindBlob(5, image.config).Bind(6, image.extra);
  RETURN_IF_ERROR(upsert.Run());

  ASSIGN_OR_RETURN(SqliteStatement clear,
                   db_.Prepare("DELETE FROM image_names WHERE image_id = ?1"));
  clear.Bind(1, image.id);
  RETURN_IF_ERROR(clear.Run());
  for (const std::string& name : image.names) {
    // A tag moves to the newest image that claims it, as on docker pull.
    ASSIGN_OR_RETURN(SqliteStatement add,
                     db_.Prepare("INSERT INTO image_names (name, image_id) VALUES (?1, ?2) "
                                 "ON CONFLICT(name) DO UPDATE SET image_id = ?2"));
    add.Bind(1, name).Bind(2, image.id);
    RETURN_IF_ERROR(add.Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MetadataTables::ImageNames(
    const std::string& image_id) const {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare("SELECT name FROM image_names WHERE image_id = ?1 ORDER BY name"));
  stmt.Bind(1, image_id);
  return Collect<std::string>(stmt, [](const SqliteStatement& s) { return s.ColumnText(0); });
}

absl::StatusOr<std::vector<ImageRecord>> MetadataTables::QueryImages(absl::string_view sql,
                                                                     const std::string& arg) const {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare(sql));
  if (!arg.empty()) stmt.Bind(1, arg);
  ASSIGN_OR_RETURN(std::vector<ImageRecord> images,
                   Collect<ImageRecord>(stmt, [](const SqliteStatement& s) {
                     return ImageRecord{.id = s.ColumnText(0),
                                        .size = s.ColumnInt(1),
                                        .pinned = s.ColumnInt(2) != 0,
                                        .created_at_ns = s.ColumnInt(3),
                                        .config = s.ColumnBlob(4),
                                        .extra = s.ColumnText(5)};
                   }));
  for (ImageRecord& image : images) {
    ASSIGN_OR_RETURN(image.names, ImageNames(image.id));
  }
  return images;
}

absl::StatusOr<ImageRecord> MetadataTables::GetImage(const std::string& id) const {
  ASSIGN_OR_RETURN(
      std::vector<ImageRecord> images,
      QueryImages("SELECT id, size, pinned, created_at_ns, config, extra FROM images WHERE id = ?1",
                  id));
  if (images.empty()) return absl::NotFoundError(absl::StrCat("image ", id, " not found"));
  return std::move(images.front());
}

absl::StatusOr<ImageRecord> MetadataTables::FindImageByName(const std::string& name) const {
  ASSIGN_OR_RETURN(
      std::vector<ImageRecord> images,
      QueryImages("SELECT i.id, i.size, i.pinned, i.created_at_ns, i.config, i.extra FROM images i "
                  "JOIN image_names n ON n.image_id = i.id WHERE n.name = ?1",
                  name));
  if (images.empty()) return absl::NotFoundError(absl::StrCat("image ", name, " not found"));
  return std::move(images.front());
}

absl::StatusOr<std::vector<ImageRecord>> MetadataTables::ListImages() const {
  return QueryImages(
      "SELECT id, size, pinned, created_at_ns, config, extra FROM images ORDER BY id", "");
}

absl::Status MetadataTables::RemoveImageName(const std::string& name) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare("DELETE FROM image_names WHERE name = ?1"));
  stmt.Bind(1, name);
  return stmt.Run();
}

absl::Status MetadataTables::DeleteImage(const std::string& id) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare("DELETE FROM images WHERE id = ?1"));
  stmt.Bind(1, id);
  return stmt.Run();
}

// --- snapshots ---

absl::StatusOr<SnapshotRecord> MetadataTables::CreateSnapshot(SnapshotRecord snapshot) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare("INSERT INTO snapshots (key, parent, kind, created_at_ns) "
                               "VALUES (?1, ?2, ?3, ?4) RETURNING id"));
  stmt.Bind(1, snapshot.key).Bind(2, snapshot.parent);
  stmt.Bind(3, static_cast<int64_t>(snapshot.kind)).Bind(4, snapshot.created_at_ns);
  ASSIGN_OR_RETURN(bool has_row, stmt.Step());
  if (!has_row) return absl::InternalError("insert snapshot returned no id");
  snapshot.id = stmt.ColumnInt(0);
  RETURN_IF_ERROR(stmt.Run());  // finish the statement
  return snapshot;
}

absl::Status MetadataTables::UpdateSnapshot(const SnapshotRecord& snapshot) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare("UPDATE snapshots SET parent = ?2, kind = ?3, created_at_ns = ?4 "
                               "WHERE key = ?1"));
  stmt.Bind(1, snapshot.key).Bind(2, snapshot.parent);
  stmt.Bind(3, static_cast<int64_t>(snapshot.kind)).Bind(4, snapshot.created_at_ns);
  RETURN_IF_ERROR(stmt.Run());
  return RequireOneChange("snapshot", snapshot.key);
}

absl::StatusOr<SnapshotRecord> MetadataTables::GetSnapshot(const std::string& key) const {
  ASSIGN_OR_RETURN(
      SqliteStatement stmt,
      db_.Prepare(absl::StrCat("SELECT ", kSnapshotColumns, " FROM snapshots WHERE key = ?1")));
  stmt.Bind(1, key);
  return One<SnapshotRecord>(stmt, ReadSnapshot, "snapshot", key);
}

absl::StatusOr<std::vector<SnapshotRecord>> MetadataTables::ListSnapshots() const {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare(absl::StrCat("SELECT ", kSnapshotColumns,
                                                                  " FROM snapshots ORDER BY id")));
  return Collect<SnapshotRecord>(stmt, ReadSnapshot);
}

absl::Status MetadataTables::CommitSnapshot(const std::string& key, const std::string& name) {
  ASSIGN_OR_RETURN(SqliteStatement taken, db_.Prepare("SELECT 1 FROM snapshots WHERE key = ?1"));
  taken.Bind(1, name);
  ASSIGN_OR_RETURN(bool exists, taken.Step());
  if (exists) return absl::AlreadyExistsError(absl::StrCat("snapshot ", name, " already exists"));
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db_.Prepare("UPDATE snapshots SET key = ?2, kind = ?3 WHERE key = ?1"));
  stmt.Bind(1, key).Bind(2, name).Bind(3, static_cast<int64_t>(SnapshotKind::kCommitted));
  RETURN_IF_ERROR(stmt.Run());
  return RequireOneChange("snapshot", key);
}

absl::Status MetadataTables::DeleteSnapshot(const std::string& key) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_.Prepare("DELETE FROM snapshots WHERE key = ?1"));
  stmt.Bind(1, key);
  return stmt.Run();
}

}  // namespace berth::cri
