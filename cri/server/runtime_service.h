#pragma once

#include <string>

#include "cri/config/config.h"
#include "runtime/v1/api.grpc.pb.h"

namespace berth::cri {

// The CRI RuntimeService. RPCs not overridden here answer UNIMPLEMENTED.
class CriRuntimeService final : public runtime::v1::RuntimeService::Service {
 public:
  explicit CriRuntimeService(const BerthConfig& config) : config_(config) {}

  grpc::Status Version(grpc::ServerContext* context, const runtime::v1::VersionRequest* request,
                       runtime::v1::VersionResponse* response) override;
  grpc::Status Status(grpc::ServerContext* context, const runtime::v1::StatusRequest* request,
                      runtime::v1::StatusResponse* response) override;
  grpc::Status RuntimeConfig(grpc::ServerContext* context,
                             const runtime::v1::RuntimeConfigRequest* request,
                             runtime::v1::RuntimeConfigResponse* response) override;

 private:
  const BerthConfig& config_;
};

}  // namespace berth::cri
