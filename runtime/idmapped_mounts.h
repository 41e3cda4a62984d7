#pragma once

// Idmapped bind mounts (OCI mounts[].uidMappings/gidMappings). Idmapping a
// mount needs privilege over the user namespace its filesystem belongs to
// (the host's), which the init has given up once it is in the container's
// user namespace; so berth-runtime, still on the host, clones and idmaps
// each source, and the init only attaches the finished mount.

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/oci/spec.h"

namespace berth {

// Mappings as /proc/<pid>/uid_map and gid_map take them: "0 100000 65536\n".
std::string IdMapText(const std::vector<oci::IdMapping>& mappings);

// A user namespace with these maps, held only by the returned fd. Forks a
// child to own it; call from a single-threaded process.
absl::StatusOr<UniqueFd> NewUserNamespace(const std::vector<oci::IdMapping>& uids,
                                          const std::vector<oci::IdMapping>& gids);

// For each mount of `spec` with id mappings, by its index in spec.mounts: a
// detached clone of its source (its tree, for rbind), idmapped and carrying
// the bind's flags (ro, nosuid, ...), ready for MoveMount. Relative sources
// resolve against `bundle`. Mounts with equal mappings share one namespace.
absl::StatusOr<std::map<size_t, UniqueFd>> PrepareIdmappedMounts(const oci::Spec& spec,
                                                                 const std::string& bundle);

}  // namespace berth
