// Reading berth.yaml: a tree of maps whose leaves are the scalar keys of
// config.cc. Anything else (an unknown key, a list where a scalar belongs, a
// duplicate key) stops startup with the key's path.

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
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
// Which file set each key: key path -> file.
using Sources = std::map<std::string, std::string>;

absl::Status ApplyRuntimeHandlers(const YAML::Node& map, BerthConfig& config, Sources& sources,
                                  const std::string& source) {
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
    config.runtime_handlers[name] = handler;  // a later file's wins
    sources[path] = source;
  }
  return absl::OkStatus();
}

absl::Status ApplyMap(const YAML::Node& map, const std::string& prefix, BerthConfig& config,
                      Sources& sources, const std::string& source) {
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
      RETURN_IF_ERROR(ApplyRuntimeHandlers(value, config, sources, source));
      continue;
    }
    if (IsSection(path)) {
      if (value.IsNull()) continue;
      if (!value.IsMap()) return absl::InvalidArgumentError(path + ": must be a mapping of keys");
      RETURN_IF_ERROR(ApplyMap(value, path, config, sources, source));
      continue;
    }
    if (!IsKey(path)) return absl::InvalidArgumentError(path + ": unknown key");
    if (value.IsNull()) continue;  // "key:" with no value keeps the default
    if (!value.IsScalar()) return absl::InvalidArgumentError(path + ": must be a single value");
    RETURN_IF_ERROR(SetConfigValue(path, value.Scalar(), config));
    sources[path] = source;
  }
  return absl::OkStatus();
}

// Applies one file's YAML over `config`.
absl::Status ApplyConfigYaml(absl::string_view yaml, const std::string& source, BerthConfig& config,
                             Sources& sources) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1, ": ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();  // an empty file changes nothing
  if (!root.IsMap())
    return absl::InvalidArgumentError(absl::StrCat(source, ": must be a mapping of keys"));
  try {
    absl::Status status = ApplyMap(root, "", config, sources, source);
    if (!status.ok())
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", status.message()));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BerthConfig> ParseConfigYaml(absl::string_view yaml, absl::string_view source) {
  BerthConfig config;
  Sources sources;
  RETURN_IF_ERROR(ApplyConfigYaml(yaml, std::string(source), config, sources));
  return config;
}

absl::StatusOr<LoadedConfig> LoadConfigFiles(const std::string& path, bool explicitly_given) {
  LoadedConfig loaded;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (text.ok()) {
    loaded.files.push_back(path);
    RETURN_IF_ERROR(ApplyConfigYaml(*text, path, loaded.config, loaded.sources));
  } else if (!absl::IsNotFound(text.status()) || explicitly_given) {
    return absl::Status(text.status().code(), absl::StrCat("config ", text.status().message()));
  }
  // Drop-ins: <path>.d/*.yaml in lexical order, each over what came before.
  std::string drop_in_dir = path + ".d";
  std::vector<std::string> drop_ins;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(drop_in_dir, error)) {
    std::string name = entry.path().filename();
    if (entry.is_regular_file() && absl::EndsWith(name, ".yaml")) drop_ins.push_back(entry.path());
  }
  std::sort(drop_ins.begin(), drop_ins.end());
  for (const std::string& drop_in : drop_ins) {
    ASSIGN_OR_RETURN(std::string drop_in_text, ReadFileToString(drop_in));
    loaded.files.push_back(drop_in);
    RETURN_IF_ERROR(ApplyConfigYaml(drop_in_text, drop_in, loaded.config, loaded.sources));
  }
  return loaded;
}

absl::StatusOr<BerthConfig> LoadConfigFile(const std::string& path, bool explicitly_given) {
  ASSIGN_OR_RETURN(LoadedConfig loaded, LoadConfigFiles(path, explicitly_given));
  return loaded.config;
}

}  // namespace berth::cri
