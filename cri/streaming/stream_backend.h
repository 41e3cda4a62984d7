#pragma once

// What the streaming server needs from the rest of berthd: the container
// service opens exec and attach sessions, the sandbox service dials into a
// pod's network namespace. An interface so the server is tested alone.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cri/streaming/stream_request.h"
#include "runtime/base/unique_fd.h"
#include "runtime/monitor/client/monitor_client.h"

namespace berth::streaming {

class StreamBackend {
 public:
  virtual ~StreamBackend() = default;

  // Starts request.cmd in the container (exec) or connects to its output
  // (attach); the container must still run.
  virtual absl::StatusOr<std::unique_ptr<StreamSession>> Exec(const StreamRequest& request) = 0;
  virtual absl::StatusOr<std::unique_ptr<StreamSession>> Attach(const StreamRequest& request) = 0;
  // A non-blocking TCP connection to `port` on the pod's loopback, made
  // inside the pod's network namespace (the host's for host-network pods).
  virtual absl::StatusOr<UniqueFd> DialPod(const std::string& sandbox_id, uint16_t port) = 0;
};

}  // namespace berth::streaming
