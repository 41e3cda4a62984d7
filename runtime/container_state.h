#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/oci/spec.h"

namespace berth {

enum class ContainerStatus { kCreating, kCreated, kRunning, kPaused, kStopped };
const char* StatusName(ContainerStatus status);

// What berth-runtime remembers about a container, in <root>/<id>/state.json.
struct ContainerState {
  std::string id;
  pid_t pid = 0;
  // The init's start time (field 22 of /proc/<pid>/stat): tells our process
  // from an unrelated one that reused the pid.
  uint64_t pid_start_time = 0;
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339
  std::string cgroup_path;
  bool systemd_cgroup = false;
  std::map<std::string, std::string> annotations;
  uid_t owner = 0;
};

// Paths under the runtime's --root.
class StateDir {
 public:
  StateDir(std::string root, std::string id) : root_(std::move(root)), id_(std::move(id)) {}
  std::string dir() const { return root_ + "/" + id_; }
  std::string state_file() const { return dir() + "/state.json"; }
  // Blocks the container's init until `start` opens it.
  std::string exec_fifo() const { return dir() + "/exec.fifo"; }
  // The config.json create read: later steps use it, never the bundle's,
  // which may have changed since.
  std::string spec_file() const { return dir() + "/config.json"; }

 private:
  std::string root_;
  std::string id_;
};

// Container ids become path components and cgroup names.
absl::Status ValidateContainerId(const std::string& id);

absl::Status SaveState(const StateDir& dir, const ContainerState& state);
// The spec create read, from the state directory (one made by an older
// berth-runtime has none: then the bundle's).
absl::StatusOr<oci::Spec> LoadContainerSpec(const StateDir& dir, const ContainerState& state);
// NotFound ("container <id> does not exist") when there is no such container.
absl::StatusOr<ContainerState> LoadState(const StateDir& dir, const std::string& id);

// The process start time of `pid`, or 0 if it is gone.
uint64_t ProcessStartTime(pid_t pid);
// Whether the container's init is still the process we started.
bool InitAlive(const ContainerState& state);

// The OCI state JSON: indented for `state`, on one line for hooks' stdin.
std::string OciStateJson(const ContainerState& state, ContainerStatus status, bool pretty = false);

}  // namespace berth
