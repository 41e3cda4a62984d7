#pragma once

// An ADD result (SPEC.md section 5), decoded from any version berth
// supports: 0.3.0 to 1.1.0 ("ips", "interfaces", "routes", "dns") and the
// older 0.1.0/0.2.0 shape ("ip4", "ip6").

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace berth::cni {

struct ResultInterface {
  std::string name;
  std::string mac;
  std::string sandbox;  // the netns path for interfaces inside the pod; empty on the host
};

struct ResultIp {
  std::string address;  // CIDR, e.g. "10.88.0.5/16"
  std::string gateway;
  std::optional<size_t> interface;  // index into interfaces
};

struct ResultRoute {
  std::string dst;
  std::string gw;
};

struct ResultDns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

struct Result {
  std::string cni_version;
  std::vector<ResultInterface> interfaces;
  std::vector<ResultIp> ips;
  std::vector<ResultRoute> routes;
  ResultDns dns;
};

// Decodes a plugin's ADD output. The result's own "cniVersion" decides the
// shape; `config_version` stands in when it has none. Addresses must be in
// CIDR notation and interface indexes in range.
absl::StatusOr<Result> ParseResult(const nlohmann::json& doc, absl::string_view config_version);

// The pod's addresses without prefix length, IPv4 first (the primary IP
// kubelet reports is the first): the addresses of interface `ifname` inside
// the pod's netns (a "sandbox" set) when the result lists interfaces, every
// address otherwise.
std::vector<std::string> PodIps(const Result& result, absl::string_view ifname);

}  // namespace berth::cni
