// UpdateRuntimeConfig: kubelet hands over the node's pod CIDRs once it knows
// them. They are recorded (Status' verbose "network" shows them); with
// cni.conf_template set, the template is filled in with them and written to
// the CNI config directory, as containerd does. Without a template the
// network config is left to whatever installs it (a CNI daemonset), and the
// call still succeeds: kubelet retries a failed one on every node sync.

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "cni/conf_template.h"
#include "cri/grpc_status.h"
#include "cri/server/runtime_service.h"
#include "runtime/base/atomic_file.h"

namespace berth::cri {

grpc::Status CriRuntimeService::UpdateRuntimeConfig(
    grpc::ServerContext*, const runtime::v1::UpdateRuntimeConfigRequest* request,
    runtime::v1::UpdateRuntimeConfigResponse*) {
  const std::string& text = request->runtime_config().network_config().pod_cidr();
  if (text.empty()) return grpc::Status::OK;
  absl::StatusOr<std::vector<std::string>> cidrs = cni::ParsePodCidrs(text);
  if (!cidrs.ok()) return ToGrpcStatus(cidrs.status());
  {
    absl::MutexLock lock(&pod_cidr_mutex_);
    pod_cidr_ = text;
  }
  CniConfig cni = config_.Get().config.cni;
  if (cni.conf_template.empty()) {
    spdlog::info(
        "pod CIDR {} recorded; cni.conf_template is not set, so the network config is "
        "left to whatever installs one in {}",
        text, cni.conf_dir);
    return grpc::Status::OK;
  }
  absl::StatusOr<std::string> template_text = ReadFileToString(cni.conf_template);
  if (!template_text.ok()) {
    return ToGrpcStatus(absl::FailedPreconditionError(absl::StrCat(
        "cni.conf_template ", cni.conf_template, ": ", template_text.status().message())));
  }
  absl::StatusOr<std::string> conf = cni::RenderCniConfTemplate(*template_text, *cidrs);
  if (!conf.ok()) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("cni.conf_template ", cni.conf_template, ": ", conf.status().message())));
  }
  std::string path = absl::StrCat(cni.conf_dir, "/", cni::kTemplatedConfName);
  if (ReadFileToString(path).value_or("") == *conf) return grpc::Status::OK;
  absl::Status written = MakeDirectories(cni.conf_dir, 0755);
  if (written.ok()) written = WriteFileAtomically(path, *conf, 0644);
  if (!written.ok()) return ToGrpcStatus(written);
  spdlog::info("pod CIDR {}: wrote {} from {}", text, path, cni.conf_template);
  return grpc::Status::OK;
}

}  // namespace berth::cri
