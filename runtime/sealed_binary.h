#pragma once

// CVE-2019-5736: a process that enters a container runs our code inside it
// until the user program is exec'd, so the container can reach our binary
// through /proc/<pid>/exe (by exec'ing /proc/self/exe as its entrypoint, or
// by watching for an exec helper joining it), wait until no process runs the
// file any more (ETXTBSY clears) and rewrite it on the host. Every process
// that enters a container therefore runs from a copy nobody can write:
//
//   - a private, detached, read-only overlayfs mount of the binary's
//     directory: writes through it fail with EROFS, and its pages are the
//     page cache of the real file, so it costs no memory per process;
//   - where overlayfs cannot be mounted (no CAP_SYS_ADMIN, a deleted binary),
//     a memfd copy sealed against writes, growth and shrinking.
//
// PR_SET_DUMPABLE alone does not help: it is reset by the exec of
// /proc/self/exe and does not apply to the process itself.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth {

// How the running binary is protected.
enum class BinaryProtection { kNone, kReadOnlyOverlay, kSealedMemfd };

// What protects /proc/self/exe of this process.
absl::StatusOr<BinaryProtection> CurrentBinaryProtection();

// Re-executes this process, with the same arguments and environment, from a
// protected copy of its binary, unless it already runs from one. Returns
// only on failure. BERTH_SEALED_BINARY=memfd in the environment skips the
// overlay (for filesystems overlayfs cannot take as a lower layer).
absl::Status ReexecFromSealedBinary(char** argv);

}  // namespace berth
