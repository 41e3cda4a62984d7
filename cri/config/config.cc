#include "cri/config/config.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

using Setter = std::function<absl::Status(absl::string_view, BerthConfig&)>;
using Getter = std::function<nlohmann::json(const BerthConfig&)>;

struct Key {
  absl::string_view path;
  Setter set;
  Getter get;
};

// "1.2.3.4:80" or "[::1]:80": a literal address, so nothing is resolved;
// port 0 picks a free one.
absl::Status CheckHostPort(absl::string_view value) {
  size_t colon = value.rfind(':');
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "must be an IP address and a port (127.0.0.1:9095, [::1]:9095), got \"", value, "\""));
  };
  if (colon == absl::string_view::npos) return bad();
  std::string host(value.substr(0, colon));
  int port = 0;
  if (!absl::SimpleAtoi(value.substr(colon + 1), &port) || port < 0 || port > 65535) return bad();
  in6_addr address;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &address) != 1) return bad();
  } else if (::inet_pton(AF_INET, host.c_str(), &address) != 1) {
    return bad();
  }
  return absl::OkStatus();
}

absl::Status SetAbsolutePath(absl::string_view value, std::string& field) {
  if (value.empty() || value[0] != '/')
    return absl::InvalidArgumentError("must be an absolute path");
  if (value.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("contains a null byte");
  }
  field = std::string(value);
  while (field.size() > 1 && field.back() == '/') field.pop_back();
  return absl::OkStatus();
}

// Empty means unset.
absl::Status SetOptionalAbsolutePath(absl::string_view value, std::string& field) {
  if (value.empty()) {
    field.clear();
    return absl::OkStatus();
  }
  return SetAbsolutePath(value, field);
}

template <size_t N>
absl::Status SetOneOf(absl::string_view value, const std::array<absl::string_view, N>& allowed,
                      std::string& field) {
  for (absl::string_view candidate : allowed) {
    if (value == candidate) {
      field = std::string(value);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("must be one of ", absl::StrJoin(allowed, ", "), ", got \"", value, "\""));
}

absl::Status SetDuration(absl::string_view v, absl::Duration& field) {
  absl::Duration d;
  if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be a duration such as 10s or 1m30s, got \"", v, "\""));
  }
  field = d;
  return absl::OkStatus();
}

// A timeout of zero would fail every call it bounds.
absl::Status SetPositiveDuration(absl::string_view v, absl::Duration& field) {
  absl::Duration d;
  if (!SetDuration(v, d).ok() || d == absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be a positive duration such as 30s or 1m, got \"", v, "\""));
  }
  field = d;
  return absl::OkStatus();
}

// A list of absolute directories written as one ':'-separated value, like
// PATH and CNI_PATH, so it stays a scalar for flags and berth.yaml alike.
absl::Status SetPathList(absl::string_view v, std::vector<std::string>& field) {
  std::vector<std::string> paths;
  for (absl::string_view part : absl::StrSplit(v, ':')) {
    std::string path;
    if (!SetAbsolutePath(part, path).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("must be absolute paths separated by ':', got \"", v, "\""));
    }
    paths.push_back(std::move(path));
  }
  field = std::move(paths);
  return absl::OkStatus();
}

template <typename Int>
absl::Status SetIntInRange(absl::string_view v, Int low, Int high, Int& field) {
  Int value;
  if (!absl::SimpleAtoi(v, &value) || value < low || value > high) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be a whole number from ", low, " to ", high, ", got \"", v, "\""));
  }
  field = value;
  return absl::OkStatus();
}

// Binary suffixes as Kubernetes quantities write them; "64Gi" is 64 << 30.
constexpr std::array<std::pair<absl::string_view, int>, 4> kSizeSuffixes = {
    {{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}}};

// The largest suffix that writes `bytes` exactly, so printed sizes read back
// unchanged.
std::string FormatByteSize(int64_t bytes) {
  for (auto it = kSizeSuffixes.rbegin(); it != kSizeSuffixes.rend(); ++it) {
    int64_t unit = int64_t{1} << it->second;
    if (bytes != 0 && bytes % unit == 0) return absl::StrCat(bytes / unit, it->first);
  }
  return absl::StrCat(bytes);
}

absl::Status SetByteSize(absl::string_view v, int64_t low, int64_t& field) {
  absl::string_view digits = v;
  int shift = 0;
  for (const auto& [suffix, bits] : kSizeSuffixes) {
    if (absl::EndsWith(v, suffix)) {
      digits = v.substr(0, v.size() - suffix.size());
      shift = bits;
    }
  }
  int64_t value;
  if (!absl::SimpleAtoi(digits, &value) || value < 0 ||
      value > (std::numeric_limits<int64_t>::max() >> shift) || (value << shift) < low) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be a size such as 64Gi, 512Mi or 1048576, at least ",
                     FormatByteSize(low), ", got \"", v, "\""));
  }
  field = value << shift;
  return absl::OkStatus();
}

// A cap this low would refuse nearly every real layer: more likely a
// forgotten suffix ("64" for 64Gi) than a wish.
constexpr int64_t kMinLayerSize = int64_t{1} << 20;

constexpr std::array<absl::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                         "error", "critical", "off"};

const std::vector<Key>& Keys() {
  static const std::vector<Key> keys = {
      {"root", [](auto v, auto& c) { return SetAbsolutePath(v, c.root); },
       [](const auto& c) { return c.root; }},
      {"state_dir", [](auto v, auto& c) { return SetAbsolutePath(v, c.state_dir); },
       [](const auto& c) { return c.state_dir; }},
      {"socket", [](auto v, auto& c) { return SetAbsolutePath(v, c.socket); },
       [](const auto& c) { return c.socket; }},
      {"log_level", [](auto v, auto& c) { return SetOneOf(v, kLogLevels, c.log_level); },
       [](const auto& c) { return c.log_level; }},
      {"cgroup_driver",
       [](absl::string_view v, BerthConfig& c) -> absl::Status {
         if (v == "cgroupfs") {
           c.cgroup_driver = CgroupDriver::kCgroupfs;
         } else if (v == "systemd") {
           c.cgroup_driver = CgroupDriver::kSystemd;
         } else {
           return absl::InvalidArgumentError(
               absl::StrCat("must be one of cgroupfs, systemd, got \"", v, "\""));
         }
         return absl::OkStatus();
       },
       [](const auto& c) { return std::string(CgroupDriverName(c.cgroup_driver)); }},
      {"shutdown_timeout",
       [](absl::string_view v, BerthConfig& c) -> absl::Status {
         absl::Duration d;
         if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration() ||
             d == absl::InfiniteDuration()) {
           return absl::InvalidArgumentError(
               absl::StrCat("must be a duration such as 10s or 1m30s, got \"", v, "\""));
         }
         c.shutdown_timeout = d;
         return absl::OkStatus();
       },
       [](const auto& c) { return absl::FormatDuration(c.shutdown_timeout); }},
      {"cni.conf_dir", [](auto v, auto& c) { return SetAbsolutePath(v, c.cni.conf_dir); },
       [](const auto& c) { return c.cni.conf_dir; }},
      {"cni.conf_template",
       [](auto v, auto& c) { return SetOptionalAbsolutePath(v, c.cni.conf_template); },
       [](const auto& c) { return c.cni.conf_template; }},
      {"cni.bin_dirs", [](auto v, auto& c) { return SetPathList(v, c.cni.bin_dirs); },
       [](const auto& c) { return absl::StrJoin(c.cni.bin_dirs, ":"); }},
      {"cni.cache_dir", [](auto v, auto& c) { return SetAbsolutePath(v, c.cni.cache_dir); },
       [](const auto& c) { return c.cni.cache_dir; }},
      {"cni.netns_dir", [](auto v, auto& c) { return SetAbsolutePath(v, c.cni.netns_dir); },
       [](const auto& c) { return c.cni.netns_dir; }},
      {"cni.plugin_timeout",
       [](auto v, auto& c) { return SetPositiveDuration(v, c.cni.plugin_timeout); },
       [](const auto& c) { return absl::FormatDuration(c.cni.plugin_timeout); }},
      {"image.sandbox_image",
       [](auto v, auto& c) {
         c.image.sandbox_image = std::string(v);
         return absl::OkStatus();
       },
       [](const auto& c) { return c.image.sandbox_image; }},
      {"image.registries_file",
       [](auto v, auto& c) { return SetAbsolutePath(v, c.image.registries_file); },
       [](const auto& c) { return c.image.registries_file; }},
      {"image.auth_file", [](auto v, auto& c) { return SetAbsolutePath(v, c.image.auth_file); },
       [](const auto& c) { return c.image.auth_file; }},
      {"image.max_concurrent_downloads",
       [](auto v, auto& c) { return SetIntInRange(v, 1, 32, c.image.max_concurrent_downloads); },
       [](const auto& c) { return c.image.max_concurrent_downloads; }},
      {"image.stall_timeout", [](auto v, auto& c) { return SetDuration(v, c.image.stall_timeout); },
       [](const auto& c) { return absl::FormatDuration(c.image.stall_timeout); }},
      {"image.max_layer_size",
       [](auto v, auto& c) { return SetByteSize(v, kMinLayerSize, c.image.max_layer_size); },
       [](const auto& c) { return FormatByteSize(c.image.max_layer_size); }},
      {"image.max_layer_entries",
       [](auto v, auto& c) {
         return SetIntInRange<int64_t>(v, 1, 1'000'000'000, c.image.max_layer_entries);
       },
       [](const auto& c) { return c.image.max_layer_entries; }},
      {"stream.address",
       [](absl::string_view v, BerthConfig& c) -> absl::Status {
         in6_addr ignored;
         if (::inet_pton(AF_INET, std::string(v).c_str(), &ignored) != 1 &&
             ::inet_pton(AF_INET6, std::string(v).c_str(), &ignored) != 1)
           return absl::InvalidArgumentError(
               absl::StrCat("must be an IPv4 or IPv6 address, got \"", v, "\""));
         c.stream.address = std::string(v);
         return absl::OkStatus();
       },
       [](const auto& c) { return c.stream.address; }},
      {"stream.port", [](auto v, auto& c) { return SetIntInRange(v, 0, 65535, c.stream.port); },
       [](const auto& c) { return c.stream.port; }},
      {"stream.tls_cert_file",
       [](auto v, auto& c) { return SetOptionalAbsolutePath(v, c.stream.tls_cert_file); },
       [](const auto& c) { return c.stream.tls_cert_file; }},
      {"stream.tls_key_file",
       [](auto v, auto& c) { return SetOptionalAbsolutePath(v, c.stream.tls_key_file); },
       [](const auto& c) { return c.stream.tls_key_file; }},
      {"stream.idle_timeout",
       [](auto v, auto& c) { return SetPositiveDuration(v, c.stream.idle_timeout); },
       [](const auto& c) { return absl::FormatDuration(c.stream.idle_timeout); }},
      {"stream.creation_timeout",
       [](auto v, auto& c) { return SetPositiveDuration(v, c.stream.creation_timeout); },
       [](const auto& c) { return absl::FormatDuration(c.stream.creation_timeout); }},
      {"stream.max_sessions",
       [](auto v, auto& c) { return SetIntInRange(v, 1, 65536, c.stream.max_sessions); },
       [](const auto& c) { return c.stream.max_sessions; }},
      {"metrics.address",
       [](absl::string_view v, BerthConfig& c) -> absl::Status {
         if (!v.empty()) RETURN_IF_ERROR(CheckHostPort(v));
         c.metrics.address = std::string(v);
         return absl::OkStatus();
       },
       [](const auto& c) { return c.metrics.address; }},
  };
  return keys;
}

}  // namespace

absl::string_view CgroupDriverName(CgroupDriver driver) {
  return driver == CgroupDriver::kSystemd ? "systemd" : "cgroupfs";
}

absl::Status SetConfigValue(absl::string_view key_path, absl::string_view value,
                            BerthConfig& config) {
  for (const Key& key : Keys()) {
    if (key.path != key_path) continue;
    absl::Status status = key.set(value, config);
    if (!status.ok())
      return absl::InvalidArgumentError(absl::StrCat(key_path, ": ", status.message()));
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat(key_path, ": unknown key"));
}

std::vector<absl::string_view> ConfigKeyPaths() {
  std::vector<absl::string_view> paths;
  for (const Key& key : Keys()) paths.push_back(key.path);
  return paths;
}

std::map<std::string, std::string> ConfigValues(const BerthConfig& config) {
  std::map<std::string, std::string> values;
  for (const Key& key : Keys()) values[std::string(key.path)] = key.get(config).dump();
  nlohmann::json handlers = nlohmann::json::object();
  for (const auto& [name, handler] : config.runtime_handlers)
    handlers[name] = {{"binary", handler.binary}, {"root", handler.root}};
  values["runtime_handlers"] = handlers.dump();
  return values;
}

std::string ConfigToJson(const BerthConfig& config) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  for (const Key& key : Keys()) {
    nlohmann::ordered_json* node = &doc;
    absl::string_view path = key.path;
    for (size_t dot; (dot = path.find('.')) != absl::string_view::npos;
         path.remove_prefix(dot + 1)) {
      node = &(*node)[std::string(path.substr(0, dot))];
    }
    (*node)[std::string(path)] = key.get(config);
  }
  nlohmann::ordered_json handlers = nlohmann::ordered_json::object();
  for (const auto& [name, handler] : config.runtime_handlers)
    handlers[name] = {{"binary", handler.binary}, {"root", handler.root}};
  doc["runtime_handlers"] = handlers;
  return doc.dump(2);
}

}  // namespace berth::cri
