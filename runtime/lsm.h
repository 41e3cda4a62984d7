#pragma once

// Which Linux security modules the host's kernel runs, for the labels a
// spec asks for (process.apparmorProfile, process.selinuxLabel).

#include <string>

#include "runtime/oci/spec.h"

namespace berth {

struct LsmSupport {
  bool apparmor = false;
  bool selinux = false;
};

// Reads the kernel's view once per process.
LsmSupport DetectLsm();

// What the process asks for that `lsm` cannot enforce, as one sentence for
// logs and container status ("AppArmor profile p is not enforced: ..."), or
// "" when every label asked for is applied.
std::string UnenforcedLabels(const oci::Process& process, const LsmSupport& lsm);

}  // namespace berth
