#include "cri/server/helper_binaries.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/errno_status.h"

namespace berth::cri {

absl::StatusOr<std::string> FindHelperBinary(const std::string& name) {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return ErrnoStatus("readlink /proc/self/exe");
  std::string dir(self, static_cast<size_t>(n));
  dir = dir.substr(0, dir.rfind('/'));
  std::vector<std::string> candidates = {absl::StrCat(dir, "/", name),
                                         absl::StrCat(dir, "/../libexec/berth/", name),
                                         absl::StrCat(dir, "/../runtime/", name)};
  for (const std::string& candidate : candidates) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(
      absl::StrCat(name, " not found (looked at ", absl::StrJoin(candidates, ", "), ")"));
}

}  // namespace berth::cri
