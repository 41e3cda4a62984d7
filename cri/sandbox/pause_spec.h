#pragma once

// The OCI spec of a pod's pause process, from the CRI's PodSandboxConfig:
// which namespaces the pod gets (per NamespaceOption), its hostname,
// sysctls (namespaced ones only, checked against the namespace modes), its
// cgroup, and the executor's hardening defaults (deny-all device rules plus
// the default devices, masked and read-only paths, no capabilities, no new
// privileges). Pure: tested with tables.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "cri/sandbox/sandbox_images.h"
#include "nlohmann/json.hpp"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

struct PauseSpecInputs {
  std::string rootfs;        // holds /pause
  std::string netns_path;    // the pinned network namespace; empty: host network, or a new one
  std::string cgroups_path;  // linux.cgroupsPath (driver syntax)
  int oom_score_adj = -998;  // kubelet's value for pods' infrastructure
  // A pause image's process (sandbox_image); null: berth-pause as /pause.
  const PauseImage* image = nullptr;
};

// -998, or berthd's own oom_score_adj where it cannot lower a child's below
// it (no CAP_SYS_RESOURCE), as containerd's restrict_oom_score_adj does:
// runc and crun fail outright on a value they may not set.
int PauseOomScoreAdj();

// The lowest oom_score_adj berthd can give a child: -1000 with
// CAP_SYS_RESOURCE, else its own value.
int LowestOomScoreAdj();

// Sysctls normalized to dotted names ("net/ipv4/ip_forward" is
// "net.ipv4.ip_forward") and checked: each must be namespaced, and its
// namespace must be the pod's own (no net.* with host network, no IPC ones
// with host IPC). InvalidArgument names the offender.
absl::StatusOr<std::map<std::string, std::string>> PodSysctls(
    const runtime::v1::PodSandboxConfig& config);

absl::StatusOr<nlohmann::json> PauseSpec(const runtime::v1::PodSandboxConfig& config,
                                         const PauseSpecInputs& inputs);

// The cgroupsPath for a pod's container `id` under `cgroup_parent` (as
// kubelet sends it): "<parent>/<id>" for cgroupfs; "<slice>:berth:<id>"
// for the systemd driver.
std::string PodCgroupsPath(const std::string& cgroup_parent, const std::string& id, bool systemd);

}  // namespace berth::cri
