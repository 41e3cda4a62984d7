#pragma once

// Per-registry settings in YAML, one mapping per registry host:
//
//   docker.io:
//     mirrors: ["https://mirror.gcr.io", "http://127.0.0.1:5001"]
//   "registry.internal:5000":
//     ca_file: /etc/berth/certs/internal-ca.pem
//   "10.0.0.5:5000":
//     plain_http: true
//   "test.example:443":
//     skip_verify: true

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "snapshotter/registry_client.h"

namespace berth::cri {

using RegistryHosts = absl::flat_hash_map<std::string, snapshotter::RegistryHostConfig>;

// InvalidArgument naming `source`, the host and the key for anything malformed.
absl::StatusOr<RegistryHosts> ParseRegistriesYaml(absl::string_view yaml, absl::string_view source);
// A missing file is no settings.
absl::StatusOr<RegistryHosts> LoadRegistriesFile(const std::string& path);

}  // namespace berth::cri
