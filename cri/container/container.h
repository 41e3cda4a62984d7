#pragma once

// A container as berthd keeps it: the CRI config, the image it runs, where
// its pieces are (rootfs snapshot, bundle, monitor state, cgroup), its
// lifecycle times and how it ended. Persisted as a ContainerRecord
// (records.h) with the extra fields as JSON.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cri/store/records.h"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

struct Container {
  std::string id;
  std::string sandbox_id;
  std::string name;  // <name>_<sandbox name>_<attempt>
  runtime::v1::ContainerConfig config;
  runtime::v1::ContainerState state = runtime::v1::CONTAINER_CREATED;
  int64_t created_at_ns = 0;
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
  int32_t exit_code = 0;
  std::string reason;   // Completed, Error, OOMKilled
  std::string message;  // why it ended, when berthd knows more than the code

  std::string image_id;   // sha256:<hex> of the image config
  std::string image_ref;  // the reference the config named, resolved: repo@digest or repo:tag
  std::string snapshot_key;
  std::string dir;       // <state_dir>/containers/<id>: bundle, rootfs, monitor state
  std::string log_path;  // absolute: the pod's log directory joined with config.log_path
  std::string cgroups_path;
  std::string runtime_handler;  // the sandbox's: which OCI runtime runs it
  pid_t pid = 0;  // the init, in the host's pid namespace, once started
  // The process's identity as the spec gives it, for ContainerStatus.user.
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> supplemental_groups;
  std::string stop_signal;  // the image's StopSignal, "" for SIGTERM
  // Resources as last applied (create, then UpdateContainerResources).
  runtime::v1::LinuxContainerResources resources;
  bool rootfs_mounted = false;
  // The monitor was spawned; its state directory says how the init ended.
  bool monitor_started = false;
  // CreateContainer finished; a record without it is what a crash left half-made.
  bool complete = false;

  std::string bundle() const { return dir + "/bundle"; }
  std::string rootfs() const { return dir + "/rootfs"; }
  std::string monitor_dir() const { return dir + "/monitor"; }
  // Image volumes (Mount.image): the `index`th mount of the config, a
  // snapshot of the image mounted here and bound read-only into the container.
  std::string image_volume_dir(int index) const {
    return dir + "/image-volumes/" + std::to_string(index);
  }
  std::string image_volume_key(int index) const {
    return "container-" + id + "-image-" + std::to_string(index);
  }
};

// The container id a snapshot key of ours names ("container-<id>" or
// "container-<id>-image-<n>"), "" for other keys.
std::string ContainerIdOfSnapshot(const std::string& key);

// "<name>_<sandbox name>_<attempt>", unique among a node's containers.
std::string ContainerName(const runtime::v1::ContainerMetadata& metadata,
                          const std::string& sandbox_name);

ContainerRecord ToRecord(const Container& container);
absl::StatusOr<Container> FromRecord(const ContainerRecord& record);

}  // namespace berth::cri
