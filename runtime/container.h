#pragma once

// The executor's library API: the OCI lifecycle operations on containers
// kept under a state root. berth-runtime is a thin CLI over these; the
// monitor links them directly.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/container_state.h"
#include "runtime/oci/spec.h"

namespace berth {

struct RuntimeOptions {
  std::string root = "/run/berth-runtime";  // state directories, one per container
  bool systemd_cgroup = false;              // cgroupsPath is slice:prefix:name
};

struct CreateOptions {
  std::string bundle;
  std::string console_socket;  // for process.terminal: receives the pty master
  std::string pid_file;        // the init's pid is written here
  int preserve_fds = 0;        // fds 3 .. 3+N-1 are passed to the container
};

// Sets the container up to the point where only exec of the user program
// is left; the init then waits for Start. Nothing is left behind on failure.
absl::Status CreateContainer(const RuntimeOptions& runtime, const std::string& id,
                             const CreateOptions& options);
// Lets a created container's init exec the user program.
absl::Status StartContainer(const RuntimeOptions& runtime, const std::string& id);

struct ContainerInfo {
  ContainerState state;
  ContainerStatus status;
};
absl::StatusOr<ContainerInfo> InspectContainer(const RuntimeOptions& runtime,
                                               const std::string& id);
absl::StatusOr<std::vector<ContainerInfo>> ListContainers(const RuntimeOptions& runtime);

// Signals the init, or with `all` every process in the container's cgroup.
absl::Status KillContainer(const RuntimeOptions& runtime, const std::string& id, int signal,
                           bool all);
// Removes a stopped (or, with `force`, any) container: processes, cgroup,
// state. Runs poststop hooks. Deleting what does not exist fails unless `force`.
absl::Status DeleteContainer(const RuntimeOptions& runtime, const std::string& id, bool force);
absl::Status PauseContainer(const RuntimeOptions& runtime, const std::string& id);
absl::Status ResumeContainer(const RuntimeOptions& runtime, const std::string& id);
// Applies new limits to a running container's cgroup.
absl::Status UpdateContainerResources(const RuntimeOptions& runtime, const std::string& id,
                                      const oci::Resources& resources);
absl::StatusOr<std::vector<pid_t>> ContainerPids(const RuntimeOptions& runtime,
                                                 const std::string& id);

// create + start; unless `detach`, waits for the init and deletes the
// container, returning the exit code (128 + signal when killed).
absl::StatusOr<int> RunContainer(const RuntimeOptions& runtime, const std::string& id,
                                 const CreateOptions& options, bool detach);

}  // namespace berth
