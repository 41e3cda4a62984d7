#pragma once

#include "absl/status/status.h"
#include "runtime/oci/spec.h"

namespace berth {

// Compiles linux.seccomp with libseccomp and loads it into this process.
// Unknown syscall names are skipped (a profile names syscalls of every
// architecture and kernel). Without no_new_privs the caller needs CAP_SYS_ADMIN.
absl::Status LoadSeccompFilter(const oci::Seccomp& seccomp);

// Checks names of actions, operators, architectures and flags without loading.
absl::Status ValidateSeccomp(const oci::Seccomp& seccomp);

}  // namespace berth
