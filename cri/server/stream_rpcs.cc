// Exec, Attach and PortForward: the request is checked here, kept by the
// streaming server under a single-use token, and the client gets the URL;
// the session itself runs when the client connects (cri/streaming/).

#include "cri/container/container_service.h"
#include "cri/grpc_status.h"
#include "cri/sandbox/sandbox_service.h"
#include "cri/server/runtime_service.h"
#include "cri/streaming/streaming_server.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

grpc::Status Unavailable(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(what));
}

// The streams kubelet may ask for: at least one, and no stderr with a
// terminal (a terminal merges it into stdout).
absl::Status CheckStreams(bool tty, bool stdin, bool stdout, bool stderr) {
  if (!stdin && !stdout && !stderr)
    return absl::InvalidArgumentError("one of stdin, stdout and stderr must be requested");
  if (tty && stderr)
    return absl::InvalidArgumentError(
        "tty and stderr cannot both be true: a terminal carries stderr on stdout");
  return absl::OkStatus();
}

// Exec and Attach alike: the streams make sense, the container runs; then
// the request waits for its client under a token.
absl::StatusOr<std::string> RegisterContainerStream(ContainerService& containers,
                                                    streaming::StreamingServer& streaming,
                                                    streaming::StreamRequest request) {
  RETURN_IF_ERROR(CheckStreams(request.tty, request.stdin, request.stdout, request.stderr));
  ASSIGN_OR_RETURN(request.container_id, containers.RunningContainerId(request.container_id));
  return streaming.Register(std::move(request));
}

}  // namespace

grpc::Status CriRuntimeService::Exec(grpc::ServerContext*, const runtime::v1::ExecRequest* request,
                                     runtime::v1::ExecResponse* response) {
  if (containers_ == nullptr || streaming_ == nullptr)
    return Unavailable("the streaming server is not available");
  if (request->cmd().empty())
    return ToGrpcStatus(absl::InvalidArgumentError("Exec needs a command"));
  absl::StatusOr<std::string> url = RegisterContainerStream(
      *containers_, *streaming_,
      {.kind = streaming::StreamKind::kExec,
       .container_id = request->container_id(),
       .cmd = std::vector<std::string>(request->cmd().begin(), request->cmd().end()),
       .tty = request->tty(),
       .stdin = request->stdin(),
       .stdout = request->stdout(),
       .stderr = request->stderr()});
  if (!url.ok()) return ToGrpcStatus(url.status());
  response->set_url(*url);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::Attach(grpc::ServerContext*,
                                       const runtime::v1::AttachRequest* request,
                                       runtime::v1::AttachResponse* response) {
  if (containers_ == nullptr || streaming_ == nullptr)
    return Unavailable("the streaming server is not available");
  absl::StatusOr<std::string> url =
      RegisterContainerStream(*containers_, *streaming_,
                              {.kind = streaming::StreamKind::kAttach,
                               .container_id = request->container_id(),
                               .tty = request->tty(),
                               .stdin = request->stdin(),
                               .stdout = request->stdout(),
                               .stderr = request->stderr()});
  if (!url.ok()) return ToGrpcStatus(url.status());
  response->set_url(*url);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::PortForward(grpc::ServerContext*,
                                            const runtime::v1::PortForwardRequest* request,
                                            runtime::v1::PortForwardResponse* response) {
  if (sandboxes_ == nullptr || streaming_ == nullptr)
    return Unavailable("the streaming server is not available");
  for (int32_t port : request->port()) {
    if (port <= 0 || port > 65535)
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("port ", port, " is not a TCP port (1 to 65535)")));
  }
  absl::StatusOr<std::string> id = sandboxes_->ResolveId(request->pod_sandbox_id());
  if (!id.ok()) return ToGrpcStatus(id.status());
  absl::StatusOr<Sandbox> sandbox = sandboxes_->Get(*id);
  if (!sandbox.ok()) return ToGrpcStatus(sandbox.status());
  if (sandbox->state != runtime::v1::SANDBOX_READY)
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("pod sandbox ", *id, " is not ready")));
  absl::StatusOr<std::string> url =
      streaming_->Register({.kind = streaming::StreamKind::kPortForward, .sandbox_id = *id});
  if (!url.ok()) return ToGrpcStatus(url.status());
  response->set_url(*url);
  return grpc::Status::OK;
}

}  // namespace berth::cri
