#pragma once

// OCI and Docker schema2 manifests and indexes (manifest lists): parsing,
// validation, and choosing the node's platform from an index.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "snapshotter/digest.h"

namespace berth::snapshotter {

namespace media_type {
inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kOciLayer[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kOciLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kOciLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kDockerLayerGzip[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr char kDockerForeignLayerGzip[] =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr char kDockerSchema1Signed[] =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media_type

bool IsIndexMediaType(absl::string_view type);
bool IsManifestMediaType(absl::string_view type);
bool IsLayerMediaType(absl::string_view type);

struct Platform {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;

  bool operator==(const Platform&) const = default;
};

// The platform this build runs on (linux/amd64, linux/arm64/v8, ...).
Platform HostPlatform();

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  // Only for entries of an index.
  bool has_platform = false;
  Platform platform;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

// The media type a manifest document declares, or infers from its shape
// when the "mediaType" field is missing (older OCI writers omit it).
std::string DetectManifestMediaType(absl::string_view json);

// InvalidArgument (DataLoss at the pull) for a malformed document.
absl::StatusOr<Manifest> ParseManifest(absl::string_view json);
absl::StatusOr<Index> ParseIndex(absl::string_view json);

// The entry of `index` for `platform`: exact os/architecture, a matching
// variant preferred (arm64 without a variant counts as v8); NotFound
// listing what the index offers otherwise.
absl::StatusOr<Descriptor> SelectPlatform(const Index& index, const Platform& platform);

// The parts of an image config berth uses.
struct ImageConfigSummary {
  std::vector<Digest> diff_ids;
  std::string user;
  Platform platform;
};
absl::StatusOr<ImageConfigSummary> ParseImageConfig(absl::string_view json);

// Chain IDs (OCI image spec): the first is the first diff ID, then
// sha256(previous chain ID + " " + diff ID).
std::vector<Digest> ChainIds(const std::vector<Digest>& diff_ids);

}  // namespace berth::snapshotter
