#pragma once

// A pod sandbox as berthd keeps it: the CRI config, where its pieces are
// (network namespace, monitor state directory, cgroup), and how far it
// got. Persisted as a SandboxRecord (records.h) with the extra fields as JSON.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cri/store/records.h"
#include "google/protobuf/message_lite.h"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

struct Sandbox {
  std::string id;
  std::string name;  // <name>_<namespace>_<uid>_<attempt>
  runtime::v1::PodSandboxConfig config;
  runtime::v1::PodSandboxState state = runtime::v1::SANDBOX_NOTREADY;
  int64_t created_at_ns = 0;
  std::string runtime_handler;

  std::string dir;         // <state_dir>/sandboxes/<id>: bundle, monitor state, pod files
  std::string netns_path;  // empty with host network
  // CNI ADD ran (or may have: berthd died in it); DEL is still owed.
  bool network_attached = false;
  std::vector<std::string> ips;  // primary first
  std::string cni_result;        // the plugin chain's final result JSON
  pid_t pid = 0;                 // the pause process, in the host's pid namespace
  std::string cgroups_path;
  bool shm_mounted = false;  // <dir>/shm, the pod's /dev/shm
  // With a sandbox_image: the snapshot view mounted on rootfs().
  std::string rootfs_view;
  // RunPodSandbox finished; a record without it is what a crash left half-made.
  bool complete = false;

  std::string bundle() const { return dir + "/bundle"; }
  std::string monitor_dir() const { return dir + "/monitor"; }
  std::string shm_dir() const { return dir + "/shm"; }
  std::string rootfs() const { return dir + "/rootfs"; }
};

// A config's bytes, serialized deterministically: a retried RunPodSandbox
// or CreateContainer is recognized by an equal fingerprint.
std::string ConfigFingerprint(const google::protobuf::MessageLite& config);

// A new sandbox or container id: 64 hex digits from the kernel's CSPRNG.
std::string NewObjectId();

// "<name>_<namespace>_<uid>_<attempt>", unique among a node's sandboxes.
std::string SandboxName(const runtime::v1::PodSandboxMetadata& metadata);

// A Kubernetes quantity ("10M", "1Gi", "500k") of the bandwidth
// annotations, in bits per second; 0 when unreadable.
uint64_t ParseBandwidth(const std::string& quantity);

SandboxRecord ToRecord(const Sandbox& sandbox);
absl::StatusOr<Sandbox> FromRecord(const SandboxRecord& record);

}  // namespace berth::cri
