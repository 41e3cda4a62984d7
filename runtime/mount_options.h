#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth {

// A mount's OCI option list split the way the kernel takes it.
struct MountOptions {
  unsigned long flags = 0;        // MS_RDONLY, MS_NOSUID, MS_BIND, ...
  unsigned long clear_flags = 0;  // flags an option turned off (rw, suid, ...)
  unsigned long propagation = 0;  // MS_PRIVATE / MS_SLAVE / MS_SHARED / MS_UNBINDABLE (| MS_REC)
  uint64_t recursive_set = 0;     // MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE): rro, rnosuid...
  uint64_t recursive_clear = 0;
  std::string data;  // filesystem options: "mode=755,size=65536k"

  bool is_bind() const;
};

// Splits `options`. Unknown words are passed to the filesystem as data, as runc does.
absl::StatusOr<MountOptions> ParseMountOptions(const std::vector<std::string>& options);

}  // namespace berth
