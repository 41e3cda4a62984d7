// Status: the readiness conditions kubelet waits on before scheduling pods.

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cni/network_config.h"
#include "cri/sandbox/sandbox_service.h"
#include "cri/server/runtime_service.h"
#include "nlohmann/json.hpp"

namespace berth::cri {
namespace {

// mount_setattr(2) answers EBADF for a bad fd where it exists (5.12+).
bool KernelHasMountSetattr() {
  static const bool present =
      ::syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0) != 0 && errno != ENOSYS;
  return present;
}

constexpr char kRuntimeReady[] = "RuntimeReady";
constexpr char kNetworkReady[] = "NetworkReady";

void AddCondition(runtime::v1::RuntimeStatus* status, const std::string& type, bool ready,
                  const std::string& reason, const std::string& message) {
  runtime::v1::RuntimeCondition* condition = status->add_conditions();
  condition->set_type(type);
  condition->set_status(ready);
  condition->set_reason(reason);
  condition->set_message(message);
}

}  // namespace

grpc::Status CriRuntimeService::Status(grpc::ServerContext*,
                                       const runtime::v1::StatusRequest* request,
                                       runtime::v1::StatusResponse* response) {
  LoadedConfig loaded = config_.Get();
  const BerthConfig& config = loaded.config;
  runtime::v1::RuntimeStatus* status = response->mutable_status();
  // berthd serves only once its store and directories are usable.
  AddCondition(status, kRuntimeReady, true, "", "");

  std::vector<std::string> skipped;
  absl::StatusOr<std::vector<cni::NetworkConfigFile>> networks =
      cni::LoadNetworkConfigFiles(config.cni.conf_dir, &skipped);
  if (!networks.ok()) {
    AddCondition(status, kNetworkReady, false, "NetworkPluginNotReady",
                 std::string(networks.status().message()));
  } else if (networks->empty()) {
    std::string message = absl::StrCat("no valid CNI network config in ", config.cni.conf_dir);
    if (!skipped.empty())
      absl::StrAppend(&message, " (skipped: ", absl::StrJoin(skipped, "; "), ")");
    AddCondition(status, kNetworkReady, false, "NetworkPluginNotReady", message);
  } else {
    AddCondition(status, kNetworkReady, true, "", "");
  }

  // The default handler (""), berth's own executor, and the configured
  // ones. Features kubelet asks about are reported as they are implemented.
  std::vector<std::string> handlers = {""};
  if (sandboxes_ != nullptr) handlers = sandboxes_->HandlerNames();
  for (const std::string& name : handlers) {
    runtime::v1::RuntimeHandler* handler = response->add_runtime_handlers();
    handler->set_name(name);
    // The built-in executor applies "rro"; other runtimes are not asked.
    handler->mutable_features()->set_recursive_read_only_mounts(name.empty());
    // Pods with a user namespace need idmapped mounts (mount_setattr);
    // other runtimes are not asked whether they apply mounts[].uidMappings.
    handler->mutable_features()->set_user_namespaces(name.empty() && KernelHasMountSetattr());
  }
  // Merge and Strict are both applied (cri/container/image_user.h), and
  // ContainerStatus.user reports the groups the process got.
  response->mutable_features()->set_supplemental_groups_policy(containers_ != nullptr);

  if (request->verbose()) {
    auto& info = *response->mutable_info();
    info["config"] = ConfigToJson(config);
    // The files it came from, in the order read, and which set each key.
    info["config_files"] = nlohmann::json(loaded.files).dump();
    info["config_sources"] = nlohmann::json(loaded.sources).dump(2);
    nlohmann::ordered_json network = {{"conf_dir", config.cni.conf_dir},
                                      {"networks", nlohmann::ordered_json::array()},
                                      {"skipped", skipped}};
    if (networks.ok()) {
      for (const cni::NetworkConfigFile& file : *networks) {
        network["networks"].push_back({{"name", file.network_name}, {"path", file.path}});
      }
    }
    {
      absl::MutexLock lock(&pod_cidr_mutex_);
      network["pod_cidr"] = pod_cidr_;
    }
    info["network"] = network.dump(2);
  }
  return grpc::Status::OK;
}

}  // namespace berth::cri
