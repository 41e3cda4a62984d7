// NewCniNetworkManager: the NetworkManager on real CNI plugins. It ties
// together the default network (re-read when conf_dir changes), the plugin
// chain and the result cache; the CNI mechanics live in those files.

#include <sys/stat.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cni/default_network.h"
#include "cni/network_manager.h"
#include "cni/plugin_chain.h"
#include "cni/plugin_exec.h"
#include "cni/plugin_request.h"
#include "cni/result.h"
#include "cni/result_cache.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cni {
namespace {

bool PathExists(const std::string& path) {
  struct stat st;
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

class CniNetworkManager final : public NetworkManager {
 public:
  explicit CniNetworkManager(CniOptions options)
      : options_(std::move(options)),
        network_(options_.conf_dir),
        executor_(options_.bin_dirs, options_.plugin_timeout, options_.on_plugin_run),
        cache_(options_.cache_dir) {}

  absl::Status Ready() override {
    ASSIGN_OR_RETURN(NetworkList list, network_.Get());
    return NetworkListStatus(executor_, list);
  }

  absl::StatusOr<AttachResult> Attach(const AttachRequest& request) override {
    RETURN_IF_ERROR(ValidateAttachment(request.container_id, request.ifname));
    if (request.netns_path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("attach container ", request.container_id, ": no network namespace path"));
    }
    RETURN_IF_ERROR(FormatCniArgs(request.args));
    ASSIGN_OR_RETURN(NetworkList list, network_.Get());
    Attachment attachment{.container_id = request.container_id,
                          .netns = request.netns_path,
                          .ifname = request.ifname,
                          .args = request.args,
                          .capability_args = CapabilityArgs(request)};

    nlohmann::json partial;
    absl::StatusOr<AddOutcome> added = AddNetworkList(executor_, list, attachment, &partial);
    if (!added.ok()) return Undo(list, attachment, partial, added.status());

    absl::StatusOr<Result> result = ParseResult(added->result, list.cni_version);
    if (!result.ok()) {
      return Undo(list, attachment, added->result,
                  absl::Status(result.status().code(),
                               absl::StrCat("network \"", list.name, "\": ADD returned a bad ",
                                            result.status().message())));
    }
    // Cached before returning: if berthd dies right after, DEL still finds
    // the config and result this ADD used.
    absl::Status cached =
        cache_.Write(CachedAttachment{.container_id = request.container_id,
                                      .network_name = list.name,
                                      .ifname = request.ifname,
                                      .netns = request.netns_path,
                                      .config = list.bytes,
                                      .cni_args = request.args,
                                      .capability_args = attachment.capability_args,
                                      .result = added->result});
    if (!cached.ok()) return Undo(list, attachment, added->result, cached);

    return AttachResult{.network_name = list.name,
                        .cni_version = result->cni_version,
                        .ips = PodIps(*result, request.ifname),
                        .result_json = added->result_text};
  }

  absl::Status Detach(const AttachRequest& request) override {
    RETURN_IF_ERROR(ValidateAttachment(request.container_id, request.ifname));
    ASSIGN_OR_RETURN(auto cached, cache_.Find(request.container_id, request.ifname));
    // The spec allows DEL without a netns: plugins then release what lives
    // outside it (IPs, iptables rules).
    std::string netns = PathExists(request.netns_path) ? request.netns_path : "";
    if (cached.empty()) {
      absl::StatusOr<NetworkList> list = network_.Get();
      if (!list.ok()) {
        spdlog::warn("CNI DEL of container {}: no cached attachment and {}; nothing to detach",
                     request.container_id, list.status().message());
        return absl::OkStatus();
      }
      Attachment attachment{.container_id = request.container_id,
                            .netns = netns,
                            .ifname = request.ifname,
                            .args = request.args,
                            .capability_args = CapabilityArgs(request)};
      return DelNetworkList(executor_, *list, attachment, nullptr);
    }
    for (const auto& [path, entry] : cached) {
      absl::StatusOr<NetworkList> list = ParseNetworkList(entry.config);
      if (!list.ok()) {
        return absl::Status(list.status().code(), absl::StrCat("cached CNI config in ", path, ": ",
                                                               list.status().message()));
      }
      // A caller that lost the path (berthd restarted mid-teardown) still
      // gets the namespace ADD was given, while it exists.
      bool use_cached_netns = request.netns_path.empty() && PathExists(entry.netns);
      Attachment attachment{.container_id = request.container_id,
                            .netns = use_cached_netns ? entry.netns : netns,
                            .ifname = request.ifname,
                            .args = entry.cni_args,
                            .capability_args = entry.capability_args};
      RETURN_IF_ERROR(DelNetworkList(executor_, *list, attachment, &entry.result));
      RETURN_IF_ERROR(cache_.Remove(path));
    }
    return absl::OkStatus();
  }

  absl::Status Check(const AttachRequest& request) override {
    RETURN_IF_ERROR(ValidateAttachment(request.container_id, request.ifname));
    ASSIGN_OR_RETURN(auto cached, cache_.Find(request.container_id, request.ifname));
    if (cached.empty()) {
      return absl::NotFoundError(absl::StrCat("container ", request.container_id, " interface ",
                                              request.ifname, " has no CNI attachment to check"));
    }
    for (const auto& [path, entry] : cached) {
      ASSIGN_OR_RETURN(NetworkList list, ParseNetworkList(entry.config));
      Attachment attachment{.container_id = request.container_id,
                            .netns = request.netns_path,
                            .ifname = request.ifname,
                            .args = entry.cni_args,
                            .capability_args = entry.capability_args};
      RETURN_IF_ERROR(CheckNetworkList(executor_, list, attachment, entry.result));
    }
    return absl::OkStatus();
  }

 private:
  // A failed ADD is followed by DEL, so no IP, veth or iptables rule of
  // the half-made attachment stays behind; the ADD's error is what the
  // caller sees.
  absl::Status Undo(const NetworkList& list, const Attachment& attachment,
                    const nlohmann::json& partial_result, const absl::Status& error) {
    absl::Status undone = DelNetworkList(executor_, list, attachment,
                                         partial_result.is_object() ? &partial_result : nullptr);
    if (undone.ok()) return error;
    return absl::Status(
        error.code(), absl::StrCat(error.message(), "; undoing it failed too: ", undone.message()));
  }

  const CniOptions options_;
  DefaultNetwork network_;
  const PluginExecutor executor_;
  const ResultCache cache_;
};

}  // namespace

std::unique_ptr<NetworkManager> NewCniNetworkManager(CniOptions options) {
  return std::make_unique<CniNetworkManager>(std::move(options));
}

}  // namespace berth::cni
