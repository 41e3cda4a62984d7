#pragma once

// cgroup v2 has no devices.allow: access to device nodes is decided by an
// eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the cgroup. This
// compiles OCI device rules into such a program with v1's semantics: rules
// apply in order, a later matching rule overrides an earlier one, and what
// no rule allows is denied.

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/oci/spec.h"

namespace berth {

std::vector<bpf_insn> CompileDeviceFilter(const std::vector<oci::DeviceRule>& rules);

// Loads the program for `rules` and attaches it to the cgroup directory,
// then detaches the device programs that were there before (an update
// replaces the filter rather than stacking a second one).
absl::Status AttachDeviceFilter(const std::string& cgroup_dir,
                                const std::vector<oci::DeviceRule>& rules);

}  // namespace berth
