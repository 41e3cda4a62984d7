#include "cni/network_config.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cni/json_text.h"
#include "cni/spec_version.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"

namespace berth::cni {
namespace {

bool IsAlphanumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// SPEC.md: an alphanumeric, then alphanumerics, '_', '.' or '-'. The name
// becomes part of a cache file name, so nothing else may pass.
bool IsValidNetworkName(const std::string& name) {
  if (name.empty() || !IsAlphanumeric(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlphanumeric(c) || c == '_' || c == '.' || c == '-'; });
}

// The type names the plugin's executable inside a bin dir: never a path.
bool IsValidPluginType(const std::string& type) {
  return !type.empty() && type != "." && type != ".." &&
         type.find_first_of(std::string("/\0", 2)) == std::string::npos;
}

absl::StatusOr<std::string> SelectVersion(const nlohmann::json& doc) {
  std::vector<std::string> offered;
  auto version = doc.find("cniVersion");
  if (version != doc.end()) {
    if (!version->is_string()) return absl::InvalidArgumentError("\"cniVersion\" is not a string");
    offered.push_back(version->get<std::string>());
  }
  auto versions = doc.find("cniVersions");
  if (versions != doc.end()) {
    if (!versions->is_array()) return absl::InvalidArgumentError("\"cniVersions\" is not a list");
    for (const nlohmann::json& v : *versions) {
      if (!v.is_string()) return absl::InvalidArgumentError("\"cniVersions\" holds a non-string");
      offered.push_back(v.get<std::string>());
    }
  }
  if (offered.empty()) return absl::InvalidArgumentError("no \"cniVersion\"");
  std::string best;
  for (const std::string& v : offered) {
    if (IsSupportedVersion(v) && (best.empty() || CompareVersions(v, best) > 0)) best = v;
  }
  if (best.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cniVersion \"", offered.front(), "\" is not supported (0.1.0 to 1.1.0 are)"));
  }
  return best;
}

absl::Status CheckPlugin(const nlohmann::json& plugin) {
  if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string()) {
    return absl::InvalidArgumentError("a plugin has no \"type\"");
  }
  std::string type = plugin["type"].get<std::string>();
  if (!IsValidPluginType(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("plugin type \"", type, "\" is not a file name"));
  }
  auto capabilities = plugin.find("capabilities");
  if (capabilities != plugin.end() && !capabilities->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("plugin \"", type, "\": \"capabilities\" is not an object"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NetworkList> ParseDocument(absl::string_view text, bool* is_list_out) {
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  NetworkList list;
  auto name = doc.find("name");
  if (name == doc.end() || !name->is_string() || name->get<std::string>().empty()) {
    return absl::InvalidArgumentError("no network \"name\"");
  }
  list.name = name->get<std::string>();
  auto plugins = doc.find("plugins");
  bool is_list = plugins != doc.end();
  *is_list_out = is_list;
  if (is_list) {
    if (!plugins->is_array() || plugins->empty()) {
      return absl::InvalidArgumentError("\"plugins\" must be a non-empty array");
    }
    for (const nlohmann::json& plugin : *plugins) {
      absl::Status status = CheckPlugin(plugin);
      if (!status.ok()) return status;
      list.plugins.push_back(plugin);
    }
  } else {
    if (!doc.contains("type") || !doc["type"].is_string()) {
      return absl::InvalidArgumentError("neither \"plugins\" nor \"type\"");
    }
    absl::Status status = CheckPlugin(doc);
    if (!status.ok()) return status;
    list.plugins.push_back(doc);
  }
  if (!IsValidNetworkName(list.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("network name \"", list.name,
                     "\" is not alphanumerics followed by alphanumerics, '_', '.' or '-'"));
  }
  absl::StatusOr<std::string> version = SelectVersion(doc);
  if (!version.ok()) return version.status();
  list.cni_version = *version;
  auto disable_check = doc.find("disableCheck");
  if (disable_check != doc.end()) {
    if (!disable_check->is_boolean()) {
      return absl::InvalidArgumentError("\"disableCheck\" is not true or false");
    }
    list.disable_check = disable_check->get<bool>();
  }
  if (is_list) {
    list.bytes = std::string(text);
  } else {
    // libcni's ConfListFromConf: the list's version and name, the file as its plugin.
    nlohmann::json wrapped = {{"cniVersion", doc.value("cniVersion", list.cni_version)},
                              {"name", list.name},
                              {"plugins", nlohmann::json::array({doc})}};
    list.bytes = ToJsonText(wrapped);
  }
  return list;
}

absl::StatusOr<NetworkList> ParseNetworkList(absl::string_view text, bool* is_list) {
  try {
    return ParseDocument(text, is_list);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed network config: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<NetworkList> ParseNetworkList(absl::string_view text) {
  bool is_list = false;
  return ParseNetworkList(text, &is_list);
}

bool IsNetworkConfigFileName(absl::string_view name) {
  return absl::EndsWith(name, ".conf") || absl::EndsWith(name, ".conflist") ||
         absl::EndsWith(name, ".json");
}

absl::StatusOr<std::vector<NetworkConfigFile>> LoadNetworkConfigFiles(
    const std::string& conf_dir, std::vector<std::string>* skipped) {
  std::vector<NetworkConfigFile> files;
  DIR* dir = ::opendir(conf_dir.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return files;
    return ErrnoStatus("open CNI config directory " + conf_dir);
  }
  std::vector<std::string> names;
  while (struct dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (IsNetworkConfigFileName(name)) names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());

  for (const std::string& name : names) {
    std::string path = absl::StrCat(conf_dir, "/", name);
    absl::StatusOr<std::string> text = ReadFileToString(path);
    bool is_list = false;
    absl::StatusOr<NetworkList> network =
        text.ok() ? ParseNetworkList(*text, &is_list) : absl::StatusOr<NetworkList>(text.status());
    if (network.ok()) {
      files.push_back(NetworkConfigFile{.path = path,
                                        .network_name = network->name,
                                        .is_list = is_list,
                                        .network = *std::move(network)});
    } else if (skipped != nullptr) {
      skipped->push_back(absl::StrCat(path, ": ", network.status().message()));
    }
  }
  return files;
}

}  // namespace berth::cni
