#pragma once

// The containers of a pod, as the sandbox service sees them: stopped
// before the pause process goes, removed with the sandbox. Implemented by
// the container service; an interface so neither module includes the other's
// internals.

#include <string>

#include "absl/status/status.h"

namespace berth::cri {

class PodMembers {
 public:
  virtual ~PodMembers() = default;
  // Stops every container of the sandbox (SIGKILL: kubelet has already
  // stopped them gracefully when it stops a pod).
  virtual absl::Status StopPodContainers(const std::string& sandbox_id) = 0;
  virtual absl::Status RemovePodContainers(const std::string& sandbox_id) = 0;
};

}  // namespace berth::cri
