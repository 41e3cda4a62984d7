#pragma once

// What one plugin invocation is given (SPEC.md section 3, "Deriving request
// configuration"): the attachment parameters that become CNI_* variables,
// and the config on stdin with name, cniVersion, runtimeConfig and
// prevResult injected. Pure functions, so the tables are unit-tested.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cni/network_config.h"
#include "cni/network_manager.h"
#include "nlohmann/json.hpp"

namespace berth::cni {

// One attachment of a container to a network (libcni's RuntimeConf).
struct Attachment {
  std::string container_id;
  std::string netns;  // empty when the namespace is already gone (DEL only)
  std::string ifname;
  std::vector<std::pair<std::string, std::string>> args;
  // Capability name -> value, as CONVENTIONS.md spells them.
  nlohmann::json capability_args = nlohmann::json::object();
};

// The request's capability arguments: portMappings (when there are any),
// bandwidth and dns (when given).
nlohmann::json CapabilityArgs(const AttachRequest& request);

// CNI_ARGS: "K=V;K=V". InvalidArgument for a pair a plugin could not split
// back (';' anywhere, '=' in the key or value, an empty key).
absl::StatusOr<std::string> FormatCniArgs(
    const std::vector<std::pair<std::string, std::string>>& args);

// Checks the container id and interface name as libcni does before ADD:
// both end up in file names and netlink requests.
absl::Status ValidateAttachment(const std::string& container_id, const std::string& ifname);

// The config one plugin of `list` reads on stdin: the plugin's object with
// the list's "name" and "cniVersion", a "runtimeConfig" holding the
// capability arguments the plugin declares in "capabilities" (if any), and
// "prevResult" unless `prev_result` is null.
nlohmann::json PluginRequestConfig(const NetworkList& list, const nlohmann::json& plugin,
                                   const nlohmann::json& capability_args,
                                   const nlohmann::json* prev_result);

}  // namespace berth::cni
