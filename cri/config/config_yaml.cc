// Reading berth.yaml: a tree of maps whose leaves are the scalar keys of
// config.cc. Anything else (an unknown key, a list where a scalar belongs, a
// duplicate key) stops startup with the key's path.

#include <cerrno>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cri/config/config.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace berth::cri {
namespace {

bool IsKey(absl::string_view path) {
  for (absl::string_view key : ConfigKeyPaths()) {
    if (key == path) return true;
  }
  return false;
}

bool IsSection(absl::string_view path) {
  std::string prefix = absl::StrCat(path, ".");
  for (absl::string_view key : ConfigKeyPaths()) {
    if (key.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

// runtime_handlers: name -> {binary, root}. Names are what RuntimeClass
// objects give as their handler: DNS labels.
absl::Status ApplyRuntimeHandlers(const YAML::Node& map, BerthConfig& config) {
  if (map.IsNull()) return absl::OkStatus();
  if (!map.IsMap())
    return absl::InvalidArgumentError("runtime_handlers: must be a mapping of names");
  for (const auto& entry : map) {
    std::string name = entry.first.Scalar();
    std::string path = "runtime_handlers." + name;
    if (name.empty() || name.size() > 63 ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      return absl::InvalidArgumentError(path + ": a handler name is a DNS label (a-z, 0-9, -)");
    }
    if (config.runtime_handlers.count(name) != 0)
      return absl::InvalidArgumentError(path + ": duplicate handler");
    if (!entry.second.IsMap()) return absl::InvalidArgumentError(path + ": must be {binary, root}");
    RuntimeHandlerConfig handler;
    for (const auto& field : entry.second) {
      std::string key = field.first.Scalar();
      if (!field.second.IsScalar())
        return absl::InvalidArgumentError(path + "." + key + ": must be a single value");
      if (key == "binary") {
        handler.binary = field.second.Scalar();
      } else if (key == "root") {
        handler.root = field.second.Scalar();
      } else {
        return absl::InvalidArgumentError(path + "." + key + ": unknown key");
      }
    }
    if (handler.binary.empty() || handler.binary[0] != '/')
      return absl::InvalidArgumentError(path + ".binary: must be an absolute path");
    if (!handler.root.empty() && handler.root[0] != '/')
      return absl::InvalidArgumentError(path + ".root: must be an absolute path");
    config.runtime_handlers[name] = handler;
  }
  return absl::OkStatus();
}

absl::Status ApplyMap(const YAML::Node& map, const std::string& prefix, BerthConfig& config) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix.empty() ? "top level" : prefix, ": keys must be plain strings"));
    }
    std::string path = absl::StrCat(prefix, prefix.empty() ? "" : ".", entry.first.Scalar());
    if (!seen.insert(path).second) return absl::InvalidArgumentError(path + ": duplicate key");
    const YAML::Node& value = entry.second;
    if (path == "runtime_handlers") {
      RETURN_IF_ERROR(ApplyRuntimeHandlers(value, config));
      continue;
    }
    if (IsSection(path)) {
      if (value.IsNull()) continue;
      if (!value.IsMap()) return absl::InvalidArgumentError(path + ": must be a mapping of keys");
      RETURN_IF_ERROR(ApplyMap(value, path, config));
      continue;
    }
    if (!IsKey(path)) return absl::InvalidArgumentError(path + ": unknown key");
    if (value.IsNull()) continue;  // "key:" with no value keeps the default
    if (!value.IsScalar()) return absl::InvalidArgumentError(path + ": must be a single value");
    RETURN_IF_ERROR(SetConfigValue(path, value.Scalar(), config));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BerthConfig> ParseConfigYaml(absl::string_view yaml, absl::string_view source) {
  BerthConfig config;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1, ": ", e.msg));
  }
  if (root.IsNull()) return config;  // an empty file means all defaults
  if (!root.IsMap())
    return absl::InvalidArgumentError(absl::StrCat(source, ": must be a mapping of keys"));
  try {
    absl::Status status = ApplyMap(root, "", config);
    if (!status.ok())
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", status.message()));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  return config;
}

absl::StatusOr<BerthConfig> LoadConfigFile(const std::string& path, bool explicitly_given) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status()) && !explicitly_given) return BerthConfig{};
    return absl::Status(text.status().code(), absl::StrCat("config ", text.status().message()));
  }
  return ParseConfigYaml(*text, path);
}

}  // namespace berth::cri
