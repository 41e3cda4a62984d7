#pragma once

// Unpacks one image layer into its own directory, the way overlayfs wants
// it: OCI whiteouts (".wh.name", ".wh..wh..opq") become overlay whiteouts
// (a 0:0 character device, the trusted.overlay.opaque xattr).
//
// The tarball is hostile input. Every entry is created relative to the
// layer directory without following symlinks, so an entry named with "..",
// an absolute path, a path through a symlink or a hard link to anything not
// in the layer fails the unpack instead of touching the host.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "snapshotter/decompressor.h"
#include "snapshotter/digest.h"

namespace berth::snapshotter {

// Caps on what one layer may unpack to (berth.yaml's image.max_layer_size
// and image.max_layer_entries): a few compressed megabytes can expand into
// enough bytes or inodes to fill the node's disk.
struct LayerLimits {
  int64_t max_bytes = int64_t{64} << 30;  // of the uncompressed tar stream
  int64_t max_entries = 10'000'000;
};

struct LayerApplyResult {
  Digest diff_id;  // sha256 of the uncompressed tar
  int64_t uncompressed_size = 0;
  Compression compression = Compression::kNone;
  int64_t entries = 0;
};

// Reads a tar (gzip, zstd or plain, detected) from `source` into the
// existing, empty directory `target`. Past a limit it stops with
// ResourceExhausted. On error `target` holds a partial layer the caller
// discards.
absl::StatusOr<LayerApplyResult> ApplyLayer(const ByteSource& source, const std::string& target,
                                            const LayerLimits& limits = {});

}  // namespace berth::snapshotter
