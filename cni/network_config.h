#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::cni {

// A network configuration file found in the CNI config directory.
struct NetworkConfigFile {
  std::string path;
  std::string network_name;
  bool is_list = false;  // a .conflist (plugins chain) rather than a single .conf
};

// Loads the network configurations of `conf_dir` the way libcni does: files
// ending in .conf, .conflist or .json, in lexical order, each parsed and
// required to name a network and a plugin. Files that fail are skipped and
// reported in `skipped` ("<path>: <why>"). The first entry is the default
// network. A missing directory yields an empty list, not an error.
absl::StatusOr<std::vector<NetworkConfigFile>> LoadNetworkConfigFiles(
    const std::string& conf_dir, std::vector<std::string>* skipped = nullptr);

}  // namespace berth::cni
