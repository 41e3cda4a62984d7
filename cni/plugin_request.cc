#include "cni/plugin_request.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::cni {

nlohmann::json CapabilityArgs(const AttachRequest& request) {
  nlohmann::json args = nlohmann::json::object();
  if (!request.port_mappings.empty()) {
    nlohmann::json mappings = nlohmann::json::array();
    for (const PortMapping& mapping : request.port_mappings) {
      nlohmann::json entry = {{"hostPort", mapping.host_port},
                              {"containerPort", mapping.container_port},
                              {"protocol", mapping.protocol}};
      if (!mapping.host_ip.empty()) entry["hostIP"] = mapping.host_ip;
      mappings.push_back(std::move(entry));
    }
    args["portMappings"] = std::move(mappings);
  }
  if (request.bandwidth.has_value()) {
    const BandwidthLimits& limits = *request.bandwidth;
    args["bandwidth"] = {{"ingressRate", limits.ingress_rate},
                         {"ingressBurst", limits.ingress_burst},
                         {"egressRate", limits.egress_rate},
                         {"egressBurst", limits.egress_burst}};
  }
  if (request.dns.has_value()) {
    args["dns"] = {{"servers", request.dns->servers},
                   {"searches", request.dns->searches},
                   {"options", request.dns->options}};
  }
  return args;
}

absl::StatusOr<std::string> FormatCniArgs(
    const std::vector<std::pair<std::string, std::string>>& args) {
  for (const auto& [key, value] : args) {
    // Plugins split on ';' and then on '=' expecting exactly two parts.
    if (key.empty() || key.find_first_of(";=") != std::string::npos ||
        value.find_first_of(";=") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("CNI argument \"", key, "=", value,
                       "\" cannot be passed in CNI_ARGS (empty key, ';' or '=')"));
    }
  }
  return absl::StrJoin(args, ";", absl::PairFormatter("="));
}

absl::Status ValidateAttachment(const std::string& container_id, const std::string& ifname) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (container_id.empty() || !alnum(container_id[0]) ||
      !std::all_of(container_id.begin(), container_id.end(),
                   [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; })) {
    return absl::InvalidArgumentError(
        absl::StrCat("container id \"", container_id,
                     "\" is not an alphanumeric followed by alphanumerics, '_', '.' or '-'"));
  }
  // The kernel's IFNAMSIZ (16 with the NUL) and dev_valid_name().
  if (ifname.empty() || ifname.size() > 15 || ifname == "." || ifname == ".." ||
      std::any_of(ifname.begin(), ifname.end(), [](char c) {
        return c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0';
      })) {
    return absl::InvalidArgumentError(
        absl::StrCat("interface name \"", ifname, "\" is not a valid Linux interface name"));
  }
  return absl::OkStatus();
}

nlohmann::json PluginRequestConfig(const NetworkList& list, const nlohmann::json& plugin,
                                   const nlohmann::json& capability_args,
                                   const nlohmann::json* prev_result) {
  nlohmann::json config = plugin;
  config["name"] = list.name;
  config["cniVersion"] = list.cni_version;
  if (prev_result != nullptr) config["prevResult"] = *prev_result;
  // Only what the plugin declared: a plugin may reject keys it does not know.
  // "capabilities" itself stays, as libcni leaves it (plugins are tested with libcni).
  nlohmann::json runtime_config = nlohmann::json::object();
  auto capabilities = plugin.find("capabilities");
  if (capabilities != plugin.end() && capabilities->is_object()) {
    for (const auto& [name, declared] : capabilities->items()) {
      if (!declared.is_boolean() || !declared.get<bool>()) continue;
      auto value = capability_args.find(name);
      if (value != capability_args.end()) runtime_config[name] = *value;
    }
  }
  if (!runtime_config.empty()) config["runtimeConfig"] = std::move(runtime_config);
  return config;
}

}  // namespace berth::cni
