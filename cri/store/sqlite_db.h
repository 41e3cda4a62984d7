#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth::cri {

// A prepared statement. Bind parameters are 1-based, columns 0-based, as in SQLite.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&&) = default;
  SqliteStatement& operator=(SqliteStatement&&) = default;

  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, absl::string_view text);
  // Binds bytes that are not text (serialized protos).
  SqliteStatement& BindBlob(int index, absl::string_view bytes);

  // Advances to the next row: true if there is one, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Run();

  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

 private:
  friend class SqliteDb;
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  absl::Status bind_status_;
};

// An open SQLite database connection. Not thread-safe: callers serialize.
class SqliteDb {
 public:
  // Opens (creating) `path` in WAL mode with full fsync on commit, foreign
  // keys enforced and a busy timeout.
  static absl::StatusOr<SqliteDb> Open(const std::string& path);

  SqliteDb(SqliteDb&&) = default;
  SqliteDb& operator=(SqliteDb&&) = default;

  // Runs one or more statements that return no rows.
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);
  // Number of rows the last statement changed.
  int64_t ChangedRows() const;

  const std::string& path() const { return path_; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  SqliteDb(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

  std::string path_;
  std::unique_ptr<sqlite3, Closer> db_;
};

// Maps an SQLite result code to a Status: constraint violations become
// AlreadyExists (unique) or FailedPrecondition, busy becomes Unavailable.
absl::Status SqliteError(sqlite3* db, int code, absl::string_view what);

}  // namespace berth::cri
