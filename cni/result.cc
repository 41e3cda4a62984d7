#include "cni/result.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cni/spec_version.h"

namespace berth::cni {
namespace {

// "10.1.2.3/24" or "fd00::5/64": an address of either family and a prefix
// that fits it.
bool IsCidr(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) return false;
  std::string address = text.substr(0, slash);
  int prefix;
  if (!absl::SimpleAtoi(text.substr(slash + 1), &prefix) || prefix < 0) return false;
  unsigned char buffer[16];
  if (inet_pton(AF_INET, address.c_str(), buffer) == 1) return prefix <= 32;
  if (inet_pton(AF_INET6, address.c_str(), buffer) == 1) return prefix <= 128;
  return false;
}

absl::StatusOr<std::string> StringField(const nlohmann::json& object, const char* key,
                                        const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " is not a string"));
  return it->get<std::string>();
}

absl::StatusOr<std::vector<std::string>> StringList(const nlohmann::json& object, const char* key,
                                                    const std::string& where) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array())
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " is not a list"));
  for (const nlohmann::json& item : *it) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " holds a non-string"));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::StatusOr<ResultDns> ParseDns(const nlohmann::json& doc) {
  ResultDns dns;
  auto it = doc.find("dns");
  if (it == doc.end() || it->is_null()) return dns;
  if (!it->is_object()) return absl::InvalidArgumentError("dns is not an object");
  absl::StatusOr<std::vector<std::string>> nameservers = StringList(*it, "nameservers", "dns");
  if (!nameservers.ok()) return nameservers.status();
  absl::StatusOr<std::string> domain = StringField(*it, "domain", "dns");
  if (!domain.ok()) return domain.status();
  absl::StatusOr<std::vector<std::string>> search = StringList(*it, "search", "dns");
  if (!search.ok()) return search.status();
  absl::StatusOr<std::vector<std::string>> options = StringList(*it, "options", "dns");
  if (!options.ok()) return options.status();
  dns.nameservers = *std::move(nameservers);
  dns.domain = *std::move(domain);
  dns.search = *std::move(search);
  dns.options = *std::move(options);
  return dns;
}

absl::StatusOr<ResultRoute> ParseRoute(const nlohmann::json& route, const std::string& where) {
  if (!route.is_object()) return absl::InvalidArgumentError(where + " is not an object");
  absl::StatusOr<std::string> dst = StringField(route, "dst", where);
  if (!dst.ok()) return dst.status();
  absl::StatusOr<std::string> gw = StringField(route, "gw", where);
  if (!gw.ok()) return gw.status();
  if (!IsCidr(*dst)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".dst \"", *dst, "\" is not an address in CIDR notation"));
  }
  return ResultRoute{.dst = *dst, .gw = *gw};
}

absl::Status ParseRoutes(const nlohmann::json& parent, const std::string& where,
                         std::vector<ResultRoute>& routes) {
  auto it = parent.find("routes");
  if (it == parent.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return absl::InvalidArgumentError(where + "routes is not a list");
  for (size_t i = 0; i < it->size(); ++i) {
    absl::StatusOr<ResultRoute> route =
        ParseRoute((*it)[i], absl::StrCat(where, "routes[", i, "]"));
    if (!route.ok()) return route.status();
    routes.push_back(*std::move(route));
  }
  return absl::OkStatus();
}

absl::StatusOr<ResultIp> ParseIp(const nlohmann::json& ip, const char* address_key,
                                 const std::string& where, size_t interface_count) {
  if (!ip.is_object()) return absl::InvalidArgumentError(where + " is not an object");
  absl::StatusOr<std::string> address = StringField(ip, address_key, where);
  if (!address.ok()) return address.status();
  if (!IsCidr(*address)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", address_key, " \"", *address,
                                                   "\" is not an address in CIDR notation"));
  }
  absl::StatusOr<std::string> gateway = StringField(ip, "gateway", where);
  if (!gateway.ok()) return gateway.status();
  ResultIp out{.address = *address, .gateway = *gateway};
  auto index = ip.find("interface");
  if (index != ip.end() && !index->is_null()) {
    if (!index->is_number_integer() || index->get<int64_t>() < 0 ||
        static_cast<size_t>(index->get<int64_t>()) >= interface_count) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".interface ", index->dump(),
                                                     " is not an index into interfaces (",
                                                     interface_count, " of them)"));
    }
    out.interface = static_cast<size_t>(index->get<int64_t>());
  }
  return out;
}

// 0.3.0 and later.
absl::Status ParseCurrent(const nlohmann::json& doc, Result& result) {
  auto interfaces = doc.find("interfaces");
  if (interfaces != doc.end() && !interfaces->is_null()) {
    if (!interfaces->is_array()) return absl::InvalidArgumentError("interfaces is not a list");
    for (size_t i = 0; i < interfaces->size(); ++i) {
      const nlohmann::json& entry = (*interfaces)[i];
      std::string where = absl::StrCat("interfaces[", i, "]");
      if (!entry.is_object()) return absl::InvalidArgumentError(where + " is not an object");
      ResultInterface interface;
      for (auto [key, field] : {std::pair{"name", &interface.name},
                                {"mac", &interface.mac},
                                {"sandbox", &interface.sandbox}}) {
        absl::StatusOr<std::string> value = StringField(entry, key, where);
        if (!value.ok()) return value.status();
        *field = *std::move(value);
      }
      result.interfaces.push_back(std::move(interface));
    }
  }
  auto ips = doc.find("ips");
  if (ips != doc.end() && !ips->is_null()) {
    if (!ips->is_array()) return absl::InvalidArgumentError("ips is not a list");
    for (size_t i = 0; i < ips->size(); ++i) {
      absl::StatusOr<ResultIp> ip =
          ParseIp((*ips)[i], "address", absl::StrCat("ips[", i, "]"), result.interfaces.size());
      if (!ip.ok()) return ip.status();
      result.ips.push_back(*std::move(ip));
    }
  }
  return ParseRoutes(doc, "", result.routes);
}

// 0.1.0 and 0.2.0: one "ip4" and one "ip6" object, routes inside each.
absl::Status ParseLegacy(const nlohmann::json& doc, Result& result) {
  for (const char* family : {"ip4", "ip6"}) {
    auto it = doc.find(family);
    if (it == doc.end() || it->is_null()) continue;
    absl::StatusOr<ResultIp> ip = ParseIp(*it, "ip", family, 0);
    if (!ip.ok()) return ip.status();
    result.ips.push_back(*std::move(ip));
    absl::Status routes = ParseRoutes(*it, absl::StrCat(family, "."), result.routes);
    if (!routes.ok()) return routes;
  }
  return absl::OkStatus();
}

absl::StatusOr<Result> ParseDocument(const nlohmann::json& doc, absl::string_view config_version) {
  if (!doc.is_object()) return absl::InvalidArgumentError("result is not a JSON object");
  Result result;
  absl::StatusOr<std::string> version = StringField(doc, "cniVersion", "result");
  if (!version.ok()) return version.status();
  result.cni_version = version->empty() ? std::string(config_version) : *version;
  if (!IsSupportedVersion(result.cni_version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("result cniVersion \"", result.cni_version, "\" is not supported"));
  }
  absl::Status status = CompareVersions(result.cni_version, "0.3.0") >= 0
                            ? ParseCurrent(doc, result)
                            : ParseLegacy(doc, result);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("result (cniVersion ", result.cni_version, "): ", status.message()));
  }
  absl::StatusOr<ResultDns> dns = ParseDns(doc);
  if (!dns.ok()) return dns.status();
  result.dns = *std::move(dns);
  return result;
}

bool IsIpv4(const std::string& address) { return address.find(':') == std::string::npos; }

}  // namespace

absl::StatusOr<Result> ParseResult(const nlohmann::json& doc, absl::string_view config_version) {
  try {
    return ParseDocument(doc, config_version);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed result: ", e.what()));
  }
}

std::vector<std::string> PodIps(const Result& result, absl::string_view ifname) {
  std::vector<std::string> v4, v6;
  for (const ResultIp& ip : result.ips) {
    if (!result.interfaces.empty()) {
      // Host-side interfaces (the bridge, the veth's host end) carry
      // addresses too; kubelet wants only the pod's.
      if (!ip.interface.has_value()) continue;
      const ResultInterface& interface = result.interfaces[*ip.interface];
      if (interface.sandbox.empty() || interface.name != ifname) continue;
    }
    std::string address = ip.address.substr(0, ip.address.find('/'));
    (IsIpv4(address) ? v4 : v6).push_back(std::move(address));
  }
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

}  // namespace berth::cni
