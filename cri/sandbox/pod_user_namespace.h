#pragma once

// A pod's user namespace (NamespaceOption.userns_options), checked: mode
// POD with one uid and one gid mapping, each starting at the container's
// id 0, as kubelet sends; NODE (or nothing) for the host's. The pause makes
// the namespace; the pod's containers join it, and see their rootfs and
// volumes through idmapped mounts.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

struct IdRange {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t length = 0;

  bool Contains(uint32_t id) const { return id >= container_id && id - container_id < length; }
};

struct PodUserNamespace {
  IdRange uids;
  IdRange gids;
};

// nullopt: the host's user namespace. INVALID_ARGUMENT for the modes and
// mappings berth does not take (CONTAINER, TARGET, several ranges, id 0
// unmapped, a range that maps the host's root or runs past 2^32).
absl::StatusOr<std::optional<PodUserNamespace>> PodUserNamespaceOf(
    const runtime::v1::NamespaceOption& namespaces);

// The pod's root reaches its rootfs by path, below `state_dir`: every
// directory above must let others cross it (mode o+x).
// FAILED_PRECONDITION naming the first that does not.
absl::Status CheckCrossableByOthers(const std::string& state_dir);

// The OCI form of a range: [{"containerID", "hostID", "size"}].
nlohmann::json IdMappingsJson(const IdRange& range);

}  // namespace berth::cri
