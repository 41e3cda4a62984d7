// The container RPCs: request checks and the status conversion at the gRPC
// edge; the work is ContainerService's (cri/container/).

#include "absl/time/clock.h"
#include "cri/container/container_events.h"
#include "cri/container/container_service.h"
#include "cri/grpc_status.h"
#include "cri/server/runtime_service.h"

namespace berth::cri {
namespace {

grpc::Status NoContainers() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "containers are not available");
}

}  // namespace

grpc::Status CriRuntimeService::CreateContainer(grpc::ServerContext*,
                                                const runtime::v1::CreateContainerRequest* request,
                                                runtime::v1::CreateContainerResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  if (!request->has_config())
    return ToGrpcStatus(absl::InvalidArgumentError("CreateContainer needs a config"));
  absl::StatusOr<std::string> id = containers_->Create(*request);
  if (!id.ok()) return ToGrpcStatus(id.status());
  response->set_container_id(*id);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::StartContainer(grpc::ServerContext*,
                                               const runtime::v1::StartContainerRequest* request,
                                               runtime::v1::StartContainerResponse*) {
  if (containers_ == nullptr) return NoContainers();
  return ToGrpcStatus(containers_->StartContainer(request->container_id()));
}

grpc::Status CriRuntimeService::StopContainer(grpc::ServerContext*,
                                              const runtime::v1::StopContainerRequest* request,
                                              runtime::v1::StopContainerResponse*) {
  if (containers_ == nullptr) return NoContainers();
  return ToGrpcStatus(containers_->Stop(request->container_id(), request->timeout()));
}

grpc::Status CriRuntimeService::RemoveContainer(grpc::ServerContext*,
                                                const runtime::v1::RemoveContainerRequest* request,
                                                runtime::v1::RemoveContainerResponse*) {
  if (containers_ == nullptr) return NoContainers();
  return ToGrpcStatus(containers_->Remove(request->container_id()));
}

grpc::Status CriRuntimeService::ListContainers(grpc::ServerContext*,
                                               const runtime::v1::ListContainersRequest* request,
                                               runtime::v1::ListContainersResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  for (runtime::v1::Container& item : containers_->List(request->filter()))
    *response->add_containers() = std::move(item);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ContainerStatus(grpc::ServerContext*,
                                                const runtime::v1::ContainerStatusRequest* request,
                                                runtime::v1::ContainerStatusResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  absl::StatusOr<runtime::v1::ContainerStatusResponse> status =
      containers_->Status(request->container_id(), request->verbose());
  if (!status.ok()) return ToGrpcStatus(status.status());
  *response = *std::move(status);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::UpdateContainerResources(
    grpc::ServerContext*, const runtime::v1::UpdateContainerResourcesRequest* request,
    runtime::v1::UpdateContainerResourcesResponse*) {
  if (containers_ == nullptr) return NoContainers();
  return ToGrpcStatus(containers_->UpdateResources(request->container_id(), request->linux()));
}

grpc::Status CriRuntimeService::ReopenContainerLog(
    grpc::ServerContext*, const runtime::v1::ReopenContainerLogRequest* request,
    runtime::v1::ReopenContainerLogResponse*) {
  if (containers_ == nullptr) return NoContainers();
  return ToGrpcStatus(containers_->ReopenLog(request->container_id()));
}

grpc::Status CriRuntimeService::ExecSync(grpc::ServerContext*,
                                         const runtime::v1::ExecSyncRequest* request,
                                         runtime::v1::ExecSyncResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  absl::StatusOr<runtime::v1::ExecSyncResponse> result = containers_->ExecSync(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::GetContainerEvents(
    grpc::ServerContext* context, const runtime::v1::GetEventsRequest*,
    grpc::ServerWriter<runtime::v1::ContainerEventResponse>* writer) {
  if (events_ == nullptr) return NoContainers();
  std::shared_ptr<ContainerEvents::Subscription> subscription = events_->Subscribe();
  grpc::Status result = grpc::Status::OK;
  while (!context->IsCancelled()) {
    std::optional<runtime::v1::ContainerEventResponse> event =
        subscription->Next(absl::Milliseconds(500));
    if (subscription->overflowed()) {
      result = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "the event stream fell too far behind; relist and subscribe again");
      break;
    }
    if (event.has_value() && !writer->Write(*event)) break;  // the client went away
  }
  events_->Unsubscribe(subscription);
  return result;
}

grpc::Status CriRuntimeService::ContainerStats(grpc::ServerContext*,
                                               const runtime::v1::ContainerStatsRequest* request,
                                               runtime::v1::ContainerStatsResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  absl::StatusOr<runtime::v1::ContainerStats> stats = containers_->Stats(request->container_id());
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  *response->mutable_stats() = *std::move(stats);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListContainerStats(
    grpc::ServerContext*, const runtime::v1::ListContainerStatsRequest* request,
    runtime::v1::ListContainerStatsResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  for (runtime::v1::ContainerStats& stats : containers_->ListStats(request->filter()))
    *response->add_stats() = std::move(stats);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::PodSandboxStats(grpc::ServerContext*,
                                                const runtime::v1::PodSandboxStatsRequest* request,
                                                runtime::v1::PodSandboxStatsResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  absl::StatusOr<runtime::v1::PodSandboxStats> stats =
      containers_->PodStats(request->pod_sandbox_id());
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  *response->mutable_stats() = *std::move(stats);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListPodSandboxStats(
    grpc::ServerContext*, const runtime::v1::ListPodSandboxStatsRequest* request,
    runtime::v1::ListPodSandboxStatsResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  for (runtime::v1::PodSandboxStats& stats : containers_->ListPodStats(request->filter()))
    *response->add_stats() = std::move(stats);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListMetricDescriptors(
    grpc::ServerContext*, const runtime::v1::ListMetricDescriptorsRequest*,
    runtime::v1::ListMetricDescriptorsResponse* response) {
  for (runtime::v1::MetricDescriptor& descriptor : ContainerService::MetricDescriptors())
    *response->add_descriptors() = std::move(descriptor);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListPodSandboxMetrics(
    grpc::ServerContext*, const runtime::v1::ListPodSandboxMetricsRequest*,
    runtime::v1::ListPodSandboxMetricsResponse* response) {
  if (containers_ == nullptr) return NoContainers();
  for (runtime::v1::PodSandboxMetrics& metrics : containers_->PodMetrics())
    *response->add_pod_metrics() = std::move(metrics);
  return grpc::Status::OK;
}

}  // namespace berth::cri
