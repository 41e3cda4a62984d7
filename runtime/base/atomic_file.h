#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth {

// Replaces `path` with `contents` so that a crash leaves either the old file
// or the new one, never a torn one: write a temporary sibling, fsync it,
// rename it over `path`, fsync the directory.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 mode_t mode = 0644);

// Reads a whole (small) file.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Creates `path` and its missing parents with `mode`; existing directories are kept as they are.
absl::Status MakeDirectories(const std::string& path, mode_t mode);

// Removes `path` and everything below it (mount points are not crossed:
// unmount first); a missing path is fine.
absl::Status RemoveTree(const std::string& path);

}  // namespace berth
