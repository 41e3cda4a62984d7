// Side-loading: importing and exporting image archives, tagging, and
// unpacking what was imported packed.

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cri/images/image_content_json.h"
#include "cri/images/image_service.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/reference.h"
#include "spdlog/spdlog.h"

namespace berth::cri {
namespace {

// An archive may leave out blobs the node already holds for the same image
// (recorded under the same id by a pull, or an import that carried them).
// Blobs of any other image stay out of reach: a hand-written manifest naming
// their digests would otherwise tag them as its own and export them.
absl::Status CheckBorrowedBlobs(MetadataStore& store, const snapshotter::ArchiveImage& image) {
  if (image.borrowed.empty()) return absl::OkStatus();
  std::string id = image.content.config_digest.ToString();
  absl::StatusOr<ImageRecord> record =
      store.Read([&](const MetadataTables& t) { return t.GetImage(id); });
  if (absl::IsNotFound(record.status())) return snapshotter::MissingFromArchive(image.borrowed[0]);
  RETURN_IF_ERROR(record.status());
  ASSIGN_OR_RETURN(snapshotter::ImageContent recorded,
                   ImageContentFromJson(record->extra, record->config));
  std::vector<snapshotter::Digest> blobs = recorded.Blobs();
  for (const snapshotter::BorrowedBlob& blob : image.borrowed) {
    if (std::find(blobs.begin(), blobs.end(), blob.digest) == blobs.end()) {
      return snapshotter::MissingFromArchive(blob);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<CriImageService::Imported>> CriImageService::Import(
    const snapshotter::ByteSource& archive, const ImportOptions& options) {
  absl::StatusOr<std::vector<Imported>> imported = ImportLocked(archive, options);
  if (!imported.ok()) CollectGarbageIfIdle();
  return imported;
}

absl::StatusOr<std::vector<CriImageService::Imported>> CriImageService::ImportLocked(
    const snapshotter::ByteSource& archive, const ImportOptions& options) {
  absl::ReaderMutexLock gc_lock(&gc_mutex_);
  ASSIGN_OR_RETURN(std::vector<snapshotter::ArchiveImage> images,
                   snapshotter::ReadImageArchive(archive, *deps_.content, *deps_.puller,
                                                 snapshotter::HostPlatform()));
  for (const snapshotter::ArchiveImage& image : images) {
    RETURN_IF_ERROR(CheckBorrowedBlobs(*deps_.store, image));
  }
  std::vector<Imported> imported;
  for (const snapshotter::ArchiveImage& image : images) {
    if (options.unpack) RETURN_IF_ERROR(deps_.puller->Unpack(image.content));
    std::vector<std::string> names;
    for (const std::string& name : image.names) {
      absl::StatusOr<snapshotter::ImageReference> ref = snapshotter::ParseImageReference(name);
      if (!ref.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("archive names an image \"", name, "\": ", ref.status().message()));
      }
      names.push_back(ref->digest ? ref->DigestName() : ref->TagName());
    }
    ASSIGN_OR_RETURN(ImageRecord record, Record(image.content, names, options.pin));
    spdlog::info("imported {} as {}{}", absl::StrJoin(names, ", "), record.id,
                 options.unpack ? "" : " (packed)");
    imported.push_back({record.id, names});
  }
  return imported;
}

absl::Status CriImageService::Export(const std::vector<std::string>& specs,
                                     const snapshotter::ArchiveSink& sink) {
  absl::ReaderMutexLock gc_lock(&gc_mutex_);
  std::vector<snapshotter::ArchiveImage> images;
  for (const std::string& spec : specs) {
    ASSIGN_OR_RETURN(ImageRecord record, ResolveImage(spec));
    snapshotter::ArchiveImage image;
    ASSIGN_OR_RETURN(image.content, ImageContentFromJson(record.extra, record.config));
    // Exported under the name asked for, or all its tags when asked by id.
    absl::StatusOr<snapshotter::ImageReference> ref = snapshotter::ParseImageReference(spec);
    if (ref.ok() && !ref->digest) {
      image.names.push_back(ref->TagName());
    } else {
      for (const std::string& name : record.names) {
        if (!absl::StrContains(name, '@')) image.names.push_back(name);
      }
    }
    images.push_back(std::move(image));
  }
  return snapshotter::WriteImageArchive(images, *deps_.content, sink);
}

absl::StatusOr<std::string> CriImageService::Tag(const std::string& source,
                                                 const std::string& target) {
  ASSIGN_OR_RETURN(snapshotter::ImageReference ref, snapshotter::ParseImageReference(target));
  if (ref.digest) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot tag with a digest reference \"", target, "\""));
  }
  ASSIGN_OR_RETURN(ImageRecord record, ResolveImage(source));
  RETURN_IF_ERROR(deps_.store->Update([&](MetadataTables& t) -> absl::Status {
    ASSIGN_OR_RETURN(ImageRecord current, t.GetImage(record.id));
    std::string name = ref.TagName();
    if (std::find(current.names.begin(), current.names.end(), name) == current.names.end()) {
      current.names.push_back(name);
    }
    return t.PutImage(current);
  }));
  return record.id;
}

absl::Status CriImageService::EnsureUnpacked(const ImageRecord& image) {
  absl::ReaderMutexLock gc_lock(&gc_mutex_);
  ASSIGN_OR_RETURN(snapshotter::ImageContent content,
                   ImageContentFromJson(image.extra, image.config));
  return deps_.puller->Unpack(content);
}

}  // namespace berth::cri
