#pragma once

#include <vector>

#include "runtime/oci/spec.h"

namespace berth {

// The device cgroup rules to apply: the spec's, then allow rules for the
// devices every container gets (null, zero, full, random, urandom, tty,
// console, ptmx, pts/*) and for each linux.devices entry, as runc does.
// Without them a spec that denies everything could not even create /dev/null.
std::vector<oci::DeviceRule> EffectiveDeviceRules(const oci::Spec& spec);

}  // namespace berth
