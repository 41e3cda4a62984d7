#pragma once

// A handle on procfs for the runtime's own writes (sysctls, oom_score_adj,
// LSM attributes, id maps) and fd reopens. CVE-2019-19921 and CVE-2025-52881:
// going by "/proc/..." paths inside a container follows whatever the image or
// a racing container put there (a symlink, a bind mount of another file, a
// tmpfs over /proc/sys), so a write meant for procfs lands elsewhere. The
// handle is a private, detached procfs instance nobody else can mount over;
// where the kernel refuses one, the mount at the fallback path, verified to be
// the root of a procfs. Lookups below it refuse symlinks and mount crossings.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/base/unique_fd.h"

namespace berth {

class ProcFs {
 public:
  // A private procfs of the caller's pid namespace, or `fallback` verified.
  static absl::StatusOr<ProcFs> Open(const char* fallback = "/proc");

  // Writes `value` to `relative` ("sys/kernel/domainname", "<pid>/uid_map").
  absl::Status Write(const std::string& relative, absl::string_view value) const;
  absl::StatusOr<std::string> Read(const std::string& relative) const;
  // `entry` of this process ("oom_score_adj" -> "<pid>/oom_score_adj"), by
  // number: "self" is a symlink.
  static std::string Self(absl::string_view entry);

  // <pid>/fd of this process: openat(dir, "N", flags) opens our fd N anew
  // (say, a fifo held O_PATH, for writing), even under a seccomp filter
  // that refuses openat2.
  absl::StatusOr<UniqueFd> OpenSelfFdDirectory() const;

 private:
  explicit ProcFs(UniqueFd root) : root_(std::move(root)) {}
  absl::StatusOr<UniqueFd> OpenBeneath(const std::string& relative, int flags) const;

  UniqueFd root_;
};

}  // namespace berth
