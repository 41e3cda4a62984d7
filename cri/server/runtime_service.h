#pragma once

#include <string>

#include "cri/config/config.h"
#include "runtime/v1/api.grpc.pb.h"

namespace berth::cri {
class SandboxService;
}

namespace berth::cri {

// The CRI RuntimeService. RPCs not overridden here answer UNIMPLEMENTED.
class CriRuntimeService final : public runtime::v1::RuntimeService::Service {
 public:
  // `sandboxes` may be null: the sandbox RPCs then answer UNAVAILABLE.
  CriRuntimeService(const BerthConfig& config, SandboxService* sandboxes)
      : config_(config), sandboxes_(sandboxes) {}

  grpc::Status Version(grpc::ServerContext* context, const runtime::v1::VersionRequest* request,
                       runtime::v1::VersionResponse* response) override;
  grpc::Status Status(grpc::ServerContext* context, const runtime::v1::StatusRequest* request,
                      runtime::v1::StatusResponse* response) override;
  grpc::Status RuntimeConfig(grpc::ServerContext* context,
                             const runtime::v1::RuntimeConfigRequest* request,
                             runtime::v1::RuntimeConfigResponse* response) override;

  // Pod sandboxes (sandbox_rpcs.cc).
  grpc::Status RunPodSandbox(grpc::ServerContext* context,
                             const runtime::v1::RunPodSandboxRequest* request,
                             runtime::v1::RunPodSandboxResponse* response) override;
  grpc::Status StopPodSandbox(grpc::ServerContext* context,
                              const runtime::v1::StopPodSandboxRequest* request,
                              runtime::v1::StopPodSandboxResponse* response) override;
  grpc::Status RemovePodSandbox(grpc::ServerContext* context,
                                const runtime::v1::RemovePodSandboxRequest* request,
                                runtime::v1::RemovePodSandboxResponse* response) override;
  grpc::Status PodSandboxStatus(grpc::ServerContext* context,
                                const runtime::v1::PodSandboxStatusRequest* request,
                                runtime::v1::PodSandboxStatusResponse* response) override;
  grpc::Status ListPodSandbox(grpc::ServerContext* context,
                              const runtime::v1::ListPodSandboxRequest* request,
                              runtime::v1::ListPodSandboxResponse* response) override;

 private:
  const BerthConfig& config_;
  SandboxService* sandboxes_;
};

}  // namespace berth::cri
