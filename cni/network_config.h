#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace berth::cni {

// A network's plugin chain as it is run (libcni's NetworkConfigList). A
// single-plugin .conf is wrapped into a one-plugin list, as libcni does.
struct NetworkList {
  std::string name;
  // The highest version berth supports among "cniVersion" and "cniVersions".
  std::string cni_version;
  bool disable_check = false;
  // The plugin configuration objects, in chain order, each with a "type".
  std::vector<nlohmann::json> plugins;
  // The list's JSON text: the file itself for a list, the wrapping list for a
  // single plugin. It is what the result cache keeps, so DEL runs the chain
  // ADD ran even after the config directory changed.
  std::string bytes;
};

// Parses a network configuration: a list ({"name", "plugins": [...]}) or a
// single plugin ({"name", "type", ...}), checking what running it needs (a
// valid network name, a supported version, plugin types that are file names).
absl::StatusOr<NetworkList> ParseNetworkList(absl::string_view text);

// A network configuration file found in the CNI config directory.
struct NetworkConfigFile {
  std::string path;
  std::string network_name;
  bool is_list = false;  // a .conflist (plugins chain) rather than a single .conf
  NetworkList network;
};

// Whether libcni would read a file of this name: .conf, .conflist or .json.
bool IsNetworkConfigFileName(absl::string_view name);

// Loads the network configurations of `conf_dir` the way libcni does: files
// ending in .conf, .conflist or .json, in lexical order, each parsed and
// required to name a network and a plugin. Files that fail are skipped and
// reported in `skipped` ("<path>: <why>"). The first entry is the default
// network. A missing directory yields an empty list, not an error.
absl::StatusOr<std::vector<NetworkConfigFile>> LoadNetworkConfigFiles(
    const std::string& conf_dir, std::vector<std::string>* skipped = nullptr);

}  // namespace berth::cni
