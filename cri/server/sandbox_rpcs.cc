// The pod sandbox RPCs: request checks and the status conversion at the gRPC
// edge; the work is SandboxService's (cri/sandbox/).

#include "cri/container/container_service.h"
#include "cri/grpc_status.h"
#include "cri/sandbox/sandbox_service.h"
#include "cri/server/runtime_service.h"

namespace berth::cri {
namespace {

grpc::Status NoSandboxes() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "pod sandboxes are not available");
}

}  // namespace

grpc::Status CriRuntimeService::RunPodSandbox(grpc::ServerContext*,
                                              const runtime::v1::RunPodSandboxRequest* request,
                                              runtime::v1::RunPodSandboxResponse* response) {
  if (sandboxes_ == nullptr) return NoSandboxes();
  if (!request->has_config())
    return ToGrpcStatus(absl::InvalidArgumentError("RunPodSandbox needs a config"));
  absl::StatusOr<std::string> id = sandboxes_->Run(*request);
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_pod_sandbox_id(*id);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::StopPodSandbox(grpc::ServerContext*,
                                               const runtime::v1::StopPodSandboxRequest* request,
                                               runtime::v1::StopPodSandboxResponse*) {
  if (sandboxes_ == nullptr) return NoSandboxes();
  return ToGrpcStatus(sandboxes_->Stop(request->pod_sandbox_id()));
}

grpc::Status CriRuntimeService::RemovePodSandbox(
    grpc::ServerContext*, const runtime::v1::RemovePodSandboxRequest* request,
    runtime::v1::RemovePodSandboxResponse*) {
  if (sandboxes_ == nullptr) return NoSandboxes();
  return ToGrpcStatus(sandboxes_->Remove(request->pod_sandbox_id()));
}

grpc::Status CriRuntimeService::PodSandboxStatus(
    grpc::ServerContext*, const runtime::v1::PodSandboxStatusRequest* request,
    runtime::v1::PodSandboxStatusResponse* response) {
  if (sandboxes_ == nullptr) return NoSandboxes();
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> status =
      sandboxes_->Status(request->pod_sandbox_id(), request->verbose());
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response = *std::move(status);
  // For kubelet's evented PLEG, which reads a pod's containers from here.
  if (containers_ != nullptr) {
    for (runtime::v1::ContainerStatus& container :
         containers_->PodContainerStatuses(response->status().id()))
      *response->add_containers_statuses() = std::move(container);
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListPodSandbox(grpc::ServerContext*,
                                               const runtime::v1::ListPodSandboxRequest* request,
                                               runtime::v1::ListPodSandboxResponse* response) {
  if (sandboxes_ == nullptr) return NoSandboxes();
  for (runtime::v1::PodSandbox& item : sandboxes_->List(request->filter()))
    *response->add_items() = std::move(item);
  return grpc::Status::OK;
}

}  // namespace berth::cri
