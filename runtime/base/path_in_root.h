#pragma once

// Resolving paths inside a container root from outside it. Every lookup goes
// through openat2(RESOLVE_IN_ROOT): ".." and absolute symlinks stop at the
// root, so a hostile image cannot point a path at the host. Callers then act
// on the returned fd (mount onto /proc/self/fd/N, fchmod, ...), never on the
// path again, so a symlink swapped in afterwards changes nothing.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/base/unique_fd.h"

namespace berth {

// Opens `path` (interpreted with `root_fd` as "/") with `flags` (O_PATH,
// O_DIRECTORY, ...). Magic links (/proc/self/fd/...) are refused.
absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags);

// Like OpenInRoot(O_PATH), creating what is missing: parent directories
// (0755) and the last component as a directory or an empty file (0644).
absl::StatusOr<UniqueFd> CreateInRoot(int root_fd, const std::string& path, bool directory);

// "/a//b/./c/../../d" -> "a/d": the components left once "." and ".." are
// applied lexically (".." stops at the top), without leading or trailing
// slashes. Symlinks are not looked at.
std::string LexicallyClean(absl::string_view path);

// "/proc/self/fd/N": a path the kernel resolves to exactly the opened file.
std::string FdPath(int fd);

}  // namespace berth
