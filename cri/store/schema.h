#pragma once

#include <vector>

#include "absl/strings/string_view.h"

namespace berth::cri {

// Schema migrations, oldest first: migration i (0-based) takes the database
// from version i to version i + 1. The version is kept in PRAGMA user_version.
// Append only: a released migration never changes.
const std::vector<absl::string_view>& SchemaMigrations();

inline int LatestSchemaVersion() { return static_cast<int>(SchemaMigrations().size()); }

}  // namespace berth::cri
