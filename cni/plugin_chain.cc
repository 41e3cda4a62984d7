#include "cni/plugin_chain.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cni/json_text.h"
#include "cni/spec_version.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cni {
namespace {

std::string TypeOf(const nlohmann::json& plugin) { return plugin.value("type", ""); }

absl::StatusOr<PluginCall> CallFor(const std::string& command, const Attachment& attachment) {
  ASSIGN_OR_RETURN(std::string cni_args, FormatCniArgs(attachment.args));
  return PluginCall{.command = command,
                    .container_id = attachment.container_id,
                    .netns = attachment.netns,
                    .ifname = attachment.ifname,
                    .cni_args = std::move(cni_args)};
}

absl::Status InNetwork(const NetworkList& list, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("network \"", list.name, "\": ", status.message()));
}

// What containerd lets a DEL pass over: the thing to delete is gone already.
bool IsAlreadyGone(const absl::Status& status, const Attachment& attachment) {
  if (absl::IsNotFound(status)) return true;  // CNI code 3, or the plugin binary
  absl::string_view message = status.message();
  return absl::StrContains(message, "not found") ||
         (attachment.netns.empty() && absl::StrContains(message, "no such file or directory"));
}

}  // namespace

absl::StatusOr<AddOutcome> AddNetworkList(const PluginExecutor& executor, const NetworkList& list,
                                          const Attachment& attachment,
                                          nlohmann::json* partial_result) {
  ASSIGN_OR_RETURN(PluginCall call, CallFor("ADD", attachment));
  AddOutcome outcome;
  bool have_result = false;
  if (partial_result != nullptr) *partial_result = nullptr;
  for (const nlohmann::json& plugin : list.plugins) {
    std::string type = TypeOf(plugin);
    nlohmann::json config = PluginRequestConfig(list, plugin, attachment.capability_args,
                                                have_result ? &outcome.result : nullptr);
    absl::StatusOr<std::string> output = executor.Run(type, call, ToJsonText(config));
    if (!output.ok()) return InNetwork(list, output.status());
    nlohmann::json result = nlohmann::json::parse(*output, nullptr, /*allow_exceptions=*/false);
    if (result.is_discarded() || !result.is_object()) {
      return InNetwork(list, absl::UnknownError(absl::StrCat("CNI plugin \"", type,
                                                             "\" ADD printed no result object: \"",
                                                             output->substr(0, 200), "\"")));
    }
    outcome.result = std::move(result);
    outcome.result_text = *std::move(output);
    have_result = true;
    if (partial_result != nullptr) *partial_result = outcome.result;
  }
  return outcome;
}

absl::Status DelNetworkList(const PluginExecutor& executor, const NetworkList& list,
                            const Attachment& attachment, const nlohmann::json* prev_result) {
  ASSIGN_OR_RETURN(PluginCall call, CallFor("DEL", attachment));
  // Before 0.4.0 DEL got no prevResult.
  if (!HasCheckAndPrevResultOnDel(list.cni_version) ||
      (prev_result != nullptr && prev_result->is_null())) {
    prev_result = nullptr;
  }
  for (auto plugin = list.plugins.rbegin(); plugin != list.plugins.rend(); ++plugin) {
    std::string type = TypeOf(*plugin);
    nlohmann::json config =
        PluginRequestConfig(list, *plugin, attachment.capability_args, prev_result);
    absl::StatusOr<std::string> output = executor.Run(type, call, ToJsonText(config));
    if (output.ok()) continue;
    if (IsAlreadyGone(output.status(), attachment)) {
      spdlog::warn("CNI DEL of container {} on network {}: {}; going on", attachment.container_id,
                   list.name, output.status().message());
      continue;
    }
    return InNetwork(list, output.status());
  }
  return absl::OkStatus();
}

absl::Status CheckNetworkList(const PluginExecutor& executor, const NetworkList& list,
                              const Attachment& attachment, const nlohmann::json& prev_result) {
  if (!HasCheckAndPrevResultOnDel(list.cni_version)) {
    return absl::UnimplementedError(absl::StrCat("network \"", list.name, "\" has cniVersion ",
                                                 list.cni_version, ", which has no CHECK"));
  }
  if (list.disable_check) return absl::OkStatus();
  ASSIGN_OR_RETURN(PluginCall call, CallFor("CHECK", attachment));
  for (const nlohmann::json& plugin : list.plugins) {
    nlohmann::json config =
        PluginRequestConfig(list, plugin, attachment.capability_args, &prev_result);
    absl::StatusOr<std::string> output = executor.Run(TypeOf(plugin), call, ToJsonText(config));
    if (!output.ok()) return InNetwork(list, output.status());
  }
  return absl::OkStatus();
}

absl::Status NetworkListStatus(const PluginExecutor& executor, const NetworkList& list) {
  for (const nlohmann::json& plugin : list.plugins) {
    absl::StatusOr<std::string> path = executor.Find(TypeOf(plugin));
    if (!path.ok()) return absl::FailedPreconditionError(InNetwork(list, path.status()).message());
  }
  if (!HasStatus(list.cni_version)) return absl::OkStatus();
  for (const nlohmann::json& plugin : list.plugins) {
    nlohmann::json config = plugin;
    config["name"] = list.name;
    config["cniVersion"] = list.cni_version;
    absl::StatusOr<std::string> output =
        executor.Run(TypeOf(plugin), PluginCall{.command = "STATUS"}, ToJsonText(config));
    if (!output.ok()) {
      return absl::FailedPreconditionError(InNetwork(list, output.status()).message());
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::cni
