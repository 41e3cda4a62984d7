#pragma once

// Docker-style image references, normalized the way kubelet, crictl and
// containerd write them: "busybox" is "docker.io/library/busybox:latest".

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "snapshotter/digest.h"

namespace berth::snapshotter {

inline constexpr char kDockerHubDomain[] = "docker.io";

struct ImageReference {
  std::string domain;  // "docker.io", "registry.k8s.io", "127.0.0.1:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // empty when only a digest was given
  std::optional<Digest> digest;

  // "docker.io/library/busybox"
  std::string Repository() const { return domain + "/" + path; }
  // "docker.io/library/busybox:1.36" (empty when there is no tag)
  std::string TagName() const;
  // "docker.io/library/busybox@sha256:..." (empty when there is no digest)
  std::string DigestName() const;
  // The full normalized reference: repository[:tag][@digest].
  std::string ToString() const;
  // What a registry calls this manifest: the digest if any, else the tag.
  std::string ManifestReference() const;

  bool operator==(const ImageReference&) const = default;
};

// Parses and normalizes `text`: adds docker.io and library/ where Docker
// would, and the "latest" tag when neither tag nor digest is given.
// InvalidArgument saying which part is malformed.
absl::StatusOr<ImageReference> ParseImageReference(absl::string_view text);

// True for a bare image id: "sha256:<hex>" or 64 hex digits.
bool LooksLikeImageId(absl::string_view text);

}  // namespace berth::snapshotter
