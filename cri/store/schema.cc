#include "cri/store/schema.h"

namespace berth::cri {

const std::vector<absl::string_view>& SchemaMigrations() {
  static const std::vector<absl::string_view> migrations = {
      // 1: the core tables.
      R"sql(
        CREATE TABLE sandboxes (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          state INTEGER NOT NULL,
          created_at_ns INTEGER NOT NULL,
          runtime_handler TEXT NOT NULL,
          netns_path TEXT NOT NULL,
          config BLOB NOT NULL,
          extra TEXT NOT NULL);
        CREATE TABLE containers (
          id TEXT PRIMARY KEY,
          sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
          name TEXT NOT NULL UNIQUE,
          state INTEGER NOT NULL,
          created_at_ns INTEGER NOT NULL,
          started_at_ns INTEGER NOT NULL,
          finished_at_ns INTEGER NOT NULL,
          exit_code INTEGER NOT NULL,
          image_id TEXT NOT NULL,
          snapshot_key TEXT NOT NULL,
          config BLOB NOT NULL,
          extra TEXT NOT NULL);
        CREATE TABLE images (
          id TEXT PRIMARY KEY,
          size INTEGER NOT NULL,
          pinned INTEGER NOT NULL,
          created_at_ns INTEGER NOT NULL,
          config BLOB NOT NULL);
        CREATE TABLE image_names (
          name TEXT PRIMARY KEY,
          image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
        CREATE TABLE snapshots (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          key TEXT NOT NULL UNIQUE,
          parent TEXT NOT NULL,
          kind INTEGER NOT NULL,
          created_at_ns INTEGER NOT NULL);
      )sql",
      // 2: containers remember their CRI log path (ReopenContainerLog and
      // restarts need it without re-parsing the config); lookup indexes.
      R"sql(
        ALTER TABLE containers ADD COLUMN log_path TEXT NOT NULL DEFAULT '';
        CREATE INDEX containers_by_sandbox ON containers(sandbox_id);
        CREATE INDEX image_names_by_image ON image_names(image_id);
        CREATE INDEX snapshots_by_parent ON snapshots(parent);
      )sql",
      // 3: images remember what they are made of (manifest, layers, chain
      // IDs) so removal can collect blobs and snapshots nothing else uses.
      R"sql(
        ALTER TABLE images ADD COLUMN extra TEXT NOT NULL DEFAULT '';
      )sql",
  };
  return migrations;
}

}  // namespace berth::cri
