#pragma once

// The OCI spec of a pod's container, from the image config and the CRI's
// ContainerConfig the way kubelet expects them: command and args against
// ENTRYPOINT and CMD, env merged, the pod's namespaces joined through the
// pause process, the pod's files and /dev/shm, mounts with their
// propagation, devices, the security context over containerd's defaults,
// resources in a cgroup under the pod's. Pure but for the checks of host
// paths (mount propagation, devices): tested with tables.

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cri/container/image_user.h"
#include "nlohmann/json.hpp"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

// What the image's config says about running it.
struct ImageRunConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  std::string stop_signal;
  std::vector<std::string> volumes;  // the config's Volumes: paths in the rootfs
};

// From the OCI image config JSON ("config": {"Entrypoint", ...}).
absl::StatusOr<ImageRunConfig> ParseImageRunConfig(const std::string& config_json);

// What kubelet's command and args make of the image's ENTRYPOINT and CMD:
// a command replaces ENTRYPOINT (and drops CMD), args replace CMD.
absl::StatusOr<std::vector<std::string>> ProcessArgs(const runtime::v1::ContainerConfig& config,
                                                     const ImageRunConfig& image);

// The image's env with the config's on top, a later key replacing an
// earlier one in place; PATH defaulted when neither has it.
std::vector<std::string> ProcessEnv(const runtime::v1::ContainerConfig& config,
                                    const ImageRunConfig& image);

// containerd's default capability set for containers.
std::vector<std::string> DefaultCapabilities();

// Capabilities after the security context: all known ones when
// privileged, else the defaults with add and drop applied ("ALL" in
// either, names with or without "CAP_").
absl::StatusOr<std::vector<std::string>> ContainerCapabilities(
    const runtime::v1::LinuxContainerSecurityContext& security);

struct ContainerSpecInputs {
  std::string rootfs;
  std::string cgroups_path;
  const runtime::v1::PodSandboxConfig* sandbox = nullptr;
  std::string sandbox_dir;  // holds hostname, hosts, resolv.conf and shm/
  bool sandbox_shm = false;
  pid_t pause_pid = 0;   // the pod's namespaces are joined through /proc/<pid>/ns
  pid_t target_pid = 0;  // pid namespace mode TARGET: the target container's init
  ImageRunConfig image;
  ProcessUser user;
  std::vector<std::string> capabilities;  // from ContainerCapabilities
  std::optional<nlohmann::json> seccomp;  // linux.seccomp, nullopt: none
  int lowest_oom_score_adj = -1000;       // what berthd may set (see LowestOomScoreAdj)
  bool cgroup_v2 = false;
  bool swap_accounting = true;  // memory.memsw (v1) or memory.swap.max (v2) exists
  // Image volumes: the host directory where the image of config.mounts(i)
  // is mounted, by i.
  std::map<int, std::string> image_volumes;
  // For annotations hooks and tools read (io.kubernetes.cri.*).
  std::string container_id, sandbox_id, image_name;
};

absl::StatusOr<nlohmann::json> ContainerSpec(const runtime::v1::ContainerConfig& config,
                                             const ContainerSpecInputs& inputs);

// The OCI linux.resources object for CRI resources, without device rules
// (for UpdateContainerResources as well as create).
nlohmann::json ResourcesJson(const runtime::v1::LinuxContainerResources& resources,
                             bool swap_accounting);

}  // namespace berth::cri
