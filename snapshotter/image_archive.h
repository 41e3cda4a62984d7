#pragma once

// Image archives: reading `docker save` tarballs and OCI image layouts in a
// tarball (optionally gzip or zstd compressed) into the content store, and
// writing images back out as an OCI archive that `docker load` also reads.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "snapshotter/content_store.h"
#include "snapshotter/decompressor.h"
#include "snapshotter/image_puller.h"
#include "snapshotter/manifest.h"

namespace berth::snapshotter {

// A blob an archived image uses that the archive does not carry, found in
// the content store instead.
struct BorrowedBlob {
  Digest digest;
  std::string role;  // "index", "manifest", "config" or "layer"
};

struct ArchiveImage {
  // Names as the archive gives them ("busybox:latest",
  // "docker.io/library/busybox:latest"); empty for an unnamed image.
  std::vector<std::string> names;
  ImageContent content;
  // Not imported but referenced: the importer decides whether the store's
  // copy may serve (a manifest naming digests it does not ship must not
  // reach blobs pulled for some other image).
  std::vector<BorrowedBlob> borrowed;
};

// Streams every blob of the archive into `content` (each verified against
// its digest when the archive names one, even one already stored) and
// describes the images in it. A blob an image needs that is neither in the
// archive nor in the store is InvalidArgument. An index keeps all its
// platforms the archive carries; `platform` picks the one that runs.
absl::StatusOr<std::vector<ArchiveImage>> ReadImageArchive(const ByteSource& source,
                                                           ContentStore& content,
                                                           ImagePuller& describer,
                                                           const Platform& platform);

// What a refused import says of a blob its archive lacks; the same whether
// or not the store has it, so an import cannot probe for other images' blobs.
absl::Status MissingFromArchive(const BorrowedBlob& blob);

// Receives the archive's bytes as they are produced.
using ArchiveSink = std::function<absl::Status(absl::string_view chunk)>;

// Writes `images` (each with the names to record for it) as one archive.
absl::Status WriteImageArchive(const std::vector<ArchiveImage>& images, const ContentStore& content,
                               const ArchiveSink& sink);

}  // namespace berth::snapshotter
