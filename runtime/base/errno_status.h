#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth {

// Builds a Status for a failed system call: the code follows the errno
// (ENOENT -> NotFound, EEXIST -> AlreadyExists, ...) and the message reads
// "<what>: <ERRNAME> (<description>)", e.g. "open /etc/x: ENOENT (No such file or directory)".
// Abseil has a function of the same name with a terser message: call ours
// qualified, berth::ErrnoToStatus, or argument-dependent lookup finds both.
absl::Status ErrnoToStatus(int error_number, absl::string_view what);

// Same, with the current errno.
absl::Status ErrnoStatus(absl::string_view what);

}  // namespace berth
