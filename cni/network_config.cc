#include "cni/network_config.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"

namespace berth::cni {
namespace {

bool HasConfigExtension(const std::string& name) {
  return absl::EndsWith(name, ".conf") || absl::EndsWith(name, ".conflist") ||
         absl::EndsWith(name, ".json");
}

absl::StatusOr<NetworkConfigFile> ParseConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  NetworkConfigFile file{.path = path};
  auto name = doc.find("name");
  if (name == doc.end() || !name->is_string() || name->get<std::string>().empty()) {
    return absl::InvalidArgumentError("no network \"name\"");
  }
  file.network_name = name->get<std::string>();
  auto plugins = doc.find("plugins");
  if (plugins != doc.end()) {
    if (!plugins->is_array() || plugins->empty()) {
      return absl::InvalidArgumentError("\"plugins\" must be a non-empty array");
    }
    for (const nlohmann::json& plugin : *plugins) {
      if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string()) {
        return absl::InvalidArgumentError("a plugin has no \"type\"");
      }
    }
    file.is_list = true;
  } else if (!doc.contains("type") || !doc["type"].is_string()) {
    return absl::InvalidArgumentError("neither \"plugins\" nor \"type\"");
  }
  return file;
}

}  // namespace

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
    if (HasConfigExtension(name)) names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());

  for (const std::string& name : names) {
    std::string path = absl::StrCat(conf_dir, "/", name);
    absl::StatusOr<NetworkConfigFile> file = ParseConfigFile(path);
    if (file.ok()) {
      files.push_back(*std::move(file));
    } else if (skipped != nullptr) {
      skipped->push_back(absl::StrCat(path, ": ", file.status().message()));
    }
  }
  return files;
}

}  // namespace berth::cni
