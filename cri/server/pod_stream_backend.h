#pragma once

#include "cri/container/container_service.h"
#include "cri/sandbox/sandbox_service.h"
#include "cri/streaming/stream_backend.h"

namespace berth::cri {

// The streaming server's view of berthd: exec and attach through the
// container service, port-forward dials through the pod's netns.
class PodStreamBackend final : public streaming::StreamBackend {
 public:
  PodStreamBackend(ContainerService& containers, SandboxService& sandboxes)
      : containers_(containers), sandboxes_(sandboxes) {}

  absl::StatusOr<std::unique_ptr<StreamSession>> Exec(
      const streaming::StreamRequest& request) override;
  absl::StatusOr<std::unique_ptr<StreamSession>> Attach(
      const streaming::StreamRequest& request) override;
  absl::StatusOr<UniqueFd> DialPod(const std::string& sandbox_id, uint16_t port) override;

 private:
  ContainerService& containers_;
  SandboxService& sandboxes_;
};

}  // namespace berth::cri
