// Version and RuntimeConfig: what kubelet checks before it uses the runtime.

#include "cri/server/runtime_service.h"
#include "cri/version.h"

namespace berth::cri {

// The kubelet-facing API version of VersionResponse.version; kept at the
// value every CRI runtime reports.
constexpr char kKubeletApiVersion[] = "0.1.0";

grpc::Status CriRuntimeService::Version(grpc::ServerContext*, const runtime::v1::VersionRequest*,
                                        runtime::v1::VersionResponse* response) {
  response->set_version(kKubeletApiVersion);
  response->set_runtime_name("berth");
  response->set_runtime_version(kBerthVersion);
  response->set_runtime_api_version("v1");
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::RuntimeConfig(grpc::ServerContext*,
                                              const runtime::v1::RuntimeConfigRequest*,
                                              runtime::v1::RuntimeConfigResponse* response) {
  // kubelet refuses to run when its cgroup driver disagrees with ours.
  response->mutable_linux()->set_cgroup_driver(config_.Get().config.cgroup_driver ==
                                                       CgroupDriver::kSystemd
                                                   ? runtime::v1::CgroupDriver::SYSTEMD
                                                   : runtime::v1::CgroupDriver::CGROUPFS);
  return grpc::Status::OK;
}

}  // namespace berth::cri
