#pragma once

// The CRI ImageService over the snapshotter module: pulls into the content
// store and layer snapshots, image records in the metadata store, removal
// with garbage collection of what no image or container uses any more.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cri/metrics/metrics.h"
#include "cri/store/metadata_store.h"
#include "runtime/v1/api.grpc.pb.h"
#include "snapshotter/content_store.h"
#include "snapshotter/image_archive.h"
#include "snapshotter/image_puller.h"
#include "snapshotter/single_flight.h"
#include "snapshotter/snapshotter.h"

namespace berth::cri {

struct ImageServiceDeps {
  MetadataStore* store = nullptr;
  snapshotter::ContentStore* content = nullptr;
  snapshotter::Snapshotter* snapshots = nullptr;
  snapshotter::ImagePuller* puller = nullptr;
  std::string content_root;         // measured for ImageFsInfo
  std::string snapshots_root;       // the image (and container) filesystem's mount point
  Metrics* metrics = &NoMetrics();  // told of every pull
};

class CriImageService final : public runtime::v1::ImageService::Service {
 public:
  explicit CriImageService(ImageServiceDeps deps) : deps_(std::move(deps)) {}

  grpc::Status ListImages(grpc::ServerContext* context,
                          const runtime::v1::ListImagesRequest* request,
                          runtime::v1::ListImagesResponse* response) override;
  grpc::Status ImageStatus(grpc::ServerContext* context,
                           const runtime::v1::ImageStatusRequest* request,
                           runtime::v1::ImageStatusResponse* response) override;
  grpc::Status PullImage(grpc::ServerContext* context, const runtime::v1::PullImageRequest* request,
                         runtime::v1::PullImageResponse* response) override;
  grpc::Status RemoveImage(grpc::ServerContext* context,
                           const runtime::v1::RemoveImageRequest* request,
                           runtime::v1::RemoveImageResponse* response) override;
  grpc::Status ImageFsInfo(grpc::ServerContext* context,
                           const runtime::v1::ImageFsInfoRequest* request,
                           runtime::v1::ImageFsInfoResponse* response) override;

  // The image an ImageSpec names: an id ("sha256:<hex>" or the bare hex),
  // a tag or a digest reference. NotFound when there is none.
  absl::StatusOr<ImageRecord> ResolveImage(const std::string& spec) const;

  // Deletes blobs and layer snapshots no image or container uses.
  absl::Status CollectGarbage();

  // PullImage's work; `progress` (optional) hears about each layer.
  absl::StatusOr<std::string> Pull(
      const runtime::v1::PullImageRequest& request,
      std::function<void(const snapshotter::LayerProgress&)> progress = {});

  struct ImportOptions {
    bool unpack = true;
    bool pin = false;
  };
  struct Imported {
    std::string id;
    std::vector<std::string> names;
  };
  // Loads a docker-save or OCI archive: every image in it, all its names.
  absl::StatusOr<std::vector<Imported>> Import(const snapshotter::ByteSource& archive,
                                               const ImportOptions& options);
  // Writes the images `specs` name as one OCI archive (docker-loadable).
  absl::Status Export(const std::vector<std::string>& specs, const snapshotter::ArchiveSink& sink);
  // Adds the tag `target` to the image `source` names; returns its id.
  absl::StatusOr<std::string> Tag(const std::string& source, const std::string& target);

  // Unpacks an image imported without unpacking, before a container uses it.
  absl::Status EnsureUnpacked(const ImageRecord& image);

 private:
  // Creates or updates the record of `content`, adding `names` to its names.
  absl::StatusOr<ImageRecord> Record(const snapshotter::ImageContent& content,
                                     const std::vector<std::string>& names, bool pin);
  absl::Status Remove(const std::string& spec);
  absl::Status CollectGarbageLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gc_mutex_);
  absl::StatusOr<std::vector<Imported>> ImportLocked(const snapshotter::ByteSource& archive,
                                                     const ImportOptions& options);
  // After a failed pull or import, removes what it stored (a config, an
  // index) unless other pulls are running, in which case a later
  // collection (the next removal, or berthd's next start) does.
  void CollectGarbageIfIdle();

  ImageServiceDeps deps_;
  snapshotter::SingleFlight<std::string> pulls_;
  // Pulls hold it shared, garbage collection exclusively: a blob or layer a
  // pull has just fetched, before its image record exists, looks unused.
  absl::Mutex gc_mutex_;
};

}  // namespace berth::cri
