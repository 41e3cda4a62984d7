#include "cri/server/pod_stream_backend.h"

#include "absl/strings/str_cat.h"
#include "cri/streaming/netns_dial.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {

absl::StatusOr<std::unique_ptr<StreamSession>> PodStreamBackend::Exec(
    const streaming::StreamRequest& request) {
  return containers_.OpenExec(request.container_id, request.cmd, request.tty, request.stdin);
}

absl::StatusOr<std::unique_ptr<StreamSession>> PodStreamBackend::Attach(
    const streaming::StreamRequest& request) {
  return containers_.OpenAttach(request.container_id);
}

absl::StatusOr<UniqueFd> PodStreamBackend::DialPod(const std::string& sandbox_id, uint16_t port) {
  ASSIGN_OR_RETURN(Sandbox sandbox, sandboxes_.Get(sandbox_id));
  if (sandbox.state != runtime::v1::SANDBOX_READY)
    return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", sandbox_id, " is not ready"));
  // Host-network pods have no namespace of their own: berthd's is theirs.
  return streaming::DialLoopbackInNetns(sandbox.netns_path, port);
}

}  // namespace berth::cri
