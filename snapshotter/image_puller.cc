#include "snapshotter/image_puller.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "snapshotter/layer_apply.h"
#include "snapshotter/overlay_snapshotter.h"

namespace berth::snapshotter {
namespace {

constexpr int64_t kMaxConfigSize = 8 << 20;
constexpr int kSocketBuffer = 4 << 20;

std::string ExtractKey(const Digest& chain_id) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(OverlaySnapshotter::kExtractPrefix, getpid(), "-", counter.fetch_add(1), "-",
                      chain_id.hex().substr(0, 12));
}

ByteSource FdSource(int fd) {
  return [fd](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
    while (true) {
      ssize_t n = read(fd, buffer, capacity);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return berth::ErrnoStatus("read layer stream");
    }
  };
}

absl::Status SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return berth::ErrnoStatus("stream layer to unpacker");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Unpack errors name the layer they happened in.
absl::Status InLayer(const LayerContent& layer, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("layer ", layer.blob.digest.ToString(), ": ", status.message()));
}

absl::Status CheckDiffId(const LayerContent& layer, const LayerApplyResult& result) {
  if (result.diff_id != layer.diff_id) {
    return absl::DataLossError(absl::StrCat(
        "layer ", layer.blob.digest.ToString(), ": uncompressed content has digest ",
        result.diff_id.ToString(), ", the image config says ", layer.diff_id.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ImageContent::TopChainId() const {
  return layers.empty() ? "" : layers.back().chain_id.ToString();
}

std::vector<Digest> ImageContent::Blobs() const {
  std::vector<Digest> blobs = {manifest_digest, config_digest};
  if (index_digest) blobs.push_back(*index_digest);
  for (const LayerContent& layer : layers) blobs.push_back(layer.blob.digest);
  blobs.insert(blobs.end(), retained.begin(), retained.end());
  return blobs;
}

bool ImagePuller::HasCommittedSnapshot(const Digest& chain_id) const {
  absl::StatusOr<SnapshotInfo> info = snapshots_.Stat(chain_id.ToString());
  return info.ok() && info->kind == SnapshotKind::kCommitted;
}

bool ImagePuller::IsUnpacked(const ImageContent& image) const {
  for (const LayerContent& layer : image.layers) {
    if (!HasCommittedSnapshot(layer.chain_id)) return false;
  }
  return true;
}

absl::StatusOr<FetchedManifest> ImagePuller::ResolveManifest(const PullRequest& request,
                                                             std::optional<Digest>& index_digest) {
  ASSIGN_OR_RETURN(FetchedManifest fetched,
                   registry_.FetchManifest(request.ref, request.credentials));
  if (!IsIndexMediaType(fetched.media_type)) return fetched;

  absl::StatusOr<Index> index = ParseIndex(fetched.content);
  if (!index.ok()) {
    return absl::DataLossError(
        absl::StrCat("index of ", request.ref.ToString(), ": ", index.status().message()));
  }
  ASSIGN_OR_RETURN(Descriptor chosen, SelectPlatform(*index, request.platform));
  RETURN_IF_ERROR(content_.Put(fetched.digest, fetched.content));
  index_digest = fetched.digest;
  ImageReference child = request.ref;
  child.digest = chosen.digest;
  ASSIGN_OR_RETURN(FetchedManifest manifest, registry_.FetchManifest(child, request.credentials));
  if (!IsManifestMediaType(manifest.media_type)) {
    return absl::DataLossError(absl::StrCat("index entry ", chosen.digest.ToString(), " of ",
                                            request.ref.ToString(), " is a \"", manifest.media_type,
                                            "\", not an image manifest"));
  }
  return manifest;
}

absl::StatusOr<ImageContent> ImagePuller::DescribeFromManifest(const Digest& manifest_digest,
                                                               const std::string& manifest_json,
                                                               std::optional<Digest> index_digest) {
  absl::StatusOr<Manifest> manifest = ParseManifest(manifest_json);
  if (!manifest.ok()) {
    return absl::Status(
        manifest.status().code() == absl::StatusCode::kInvalidArgument ? absl::StatusCode::kDataLoss
                                                                       : manifest.status().code(),
        absl::StrCat("manifest ", manifest_digest.ToString(), ": ", manifest.status().message()));
  }
  ImageContent image;
  image.manifest_digest = manifest_digest;
  image.manifest_media_type = manifest->media_type;
  image.index_digest = std::move(index_digest);
  image.config_digest = manifest->config.digest;
  ASSIGN_OR_RETURN(image.config, content_.Read(manifest->config.digest, kMaxConfigSize));
  absl::StatusOr<ImageConfigSummary> config = ParseImageConfig(image.config);
  if (!config.ok()) {
    return absl::DataLossError(absl::StrCat("config ", manifest->config.digest.ToString(), ": ",
                                            config.status().message()));
  }
  if (config->diff_ids.size() != manifest->layers.size()) {
    return absl::DataLossError(absl::StrCat("manifest ", manifest_digest.ToString(), " has ",
                                            manifest->layers.size(), " layers, its config ",
                                            config->diff_ids.size(), " diff ids"));
  }
  image.user = config->user;
  std::vector<Digest> chain = ChainIds(config->diff_ids);
  image.size = static_cast<int64_t>(manifest_json.size()) + manifest->config.size;
  for (size_t i = 0; i < manifest->layers.size(); ++i) {
    image.layers.push_back({manifest->layers[i], config->diff_ids[i], chain[i]});
    image.size += manifest->layers[i].size;
  }
  return image;
}

absl::StatusOr<ImageContent> ImagePuller::Pull(const PullRequest& request) {
  std::optional<Digest> index_digest;
  ASSIGN_OR_RETURN(FetchedManifest fetched, ResolveManifest(request, index_digest));
  absl::StatusOr<Manifest> manifest = ParseManifest(fetched.content);
  if (!manifest.ok()) {
    return absl::Status(
        absl::StatusCode::kDataLoss,
        absl::StrCat("manifest of ", request.ref.ToString(), ": ", manifest.status().message()));
  }
  RETURN_IF_ERROR(FetchSmallBlob(request, manifest->config));
  ASSIGN_OR_RETURN(ImageContent image,
                   DescribeFromManifest(fetched.digest, fetched.content, index_digest));
  RETURN_IF_ERROR(FetchLayers(&request, image, request.unpack));
  // The manifest is stored last: its presence means the image is complete.
  RETURN_IF_ERROR(content_.Put(fetched.digest, fetched.content));
  return image;
}

absl::Status ImagePuller::Unpack(const ImageContent& image) {
  return FetchLayers(nullptr, image, /*unpack=*/true);
}

absl::Status ImagePuller::FetchSmallBlob(const PullRequest& request, const Descriptor& blob) {
  if (blob.size > kMaxConfigSize) {
    return absl::DataLossError(
        absl::StrCat("config ", blob.digest.ToString(), " claims ", blob.size, " bytes"));
  }
  return DownloadBlob(request, blob, /*report=*/false);
}

absl::Status ImagePuller::FetchLayers(const PullRequest* request, const ImageContent& image,
                                      bool unpack) {
  std::atomic<size_t> next{0};
  absl::Mutex mutex;
  absl::Status first_error;
  auto worker = [&] {
    while (true) {
      size_t i = next.fetch_add(1);
      if (i >= image.layers.size()) return;
      {
        absl::MutexLock lock(&mutex);
        if (!first_error.ok()) return;  // stop starting new layers after a failure
      }
      std::string parent = i == 0 ? "" : image.layers[i - 1].chain_id.ToString();
      absl::Status status = FetchLayer(request, image.layers[i], parent, unpack);
      if (!status.ok()) {
        absl::MutexLock lock(&mutex);
        if (first_error.ok()) first_error = status;
      }
    }
  };
  size_t threads =
      std::min<size_t>(std::max(1, options_.max_concurrent_layers), image.layers.size());
  std::vector<std::thread> workers;
  for (size_t i = 1; i < threads; ++i) workers.emplace_back(worker);
  worker();
  for (std::thread& t : workers) t.join();
  return first_error;
}

absl::Status ImagePuller::FetchLayer(const PullRequest* request, const LayerContent& layer,
                                     const std::string& parent_chain_id, bool unpack) {
  auto report_cached = [&] {
    if (request != nullptr && request->progress) {
      request->progress({layer.blob.digest, layer.blob.size, layer.blob.size, true, true});
    }
  };
  if (!unpack || HasCommittedSnapshot(layer.chain_id)) {
    if (content_.Has(layer.blob.digest)) {
      report_cached();
      return absl::OkStatus();
    }
    if (request == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("layer ", layer.blob.digest.ToString(), " is not in the content store"));
    }
    return DownloadBlob(*request, layer.blob);
  }
  absl::StatusOr<bool> done =
      layer_flights_.Do(layer.chain_id.ToString(), [&]() -> absl::StatusOr<bool> {
        if (HasCommittedSnapshot(layer.chain_id)) return true;
        if (content_.Has(layer.blob.digest)) {
          RETURN_IF_ERROR(UnpackStoredBlob(layer, parent_chain_id));
          report_cached();
          return true;
        }
        if (request == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("layer ", layer.blob.digest.ToString(), " is not in the content store"));
        }
        RETURN_IF_ERROR(DownloadAndUnpack(*request, layer, parent_chain_id));
        return true;
      });
  // The snapshot can exist without this image's blob (another image with
  // the same layer compressed differently): the image still needs its own blob.
  if (done.ok() && request != nullptr && !content_.Has(layer.blob.digest)) {
    return DownloadBlob(*request, layer.blob);
  }
  return done.status();
}

absl::Status ImagePuller::DownloadBlob(const PullRequest& request, const Descriptor& blob,
                                       bool report) {
  return blob_flights_
      .Do(blob.digest.ToString(),
          [&]() -> absl::StatusOr<bool> {
            if (content_.Has(blob.digest)) return true;
            ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer,
                             content_.Writer(blob.digest, blob.size));
            LayerProgress progress{blob.digest, blob.size, 0, false, false};
            RETURN_IF_ERROR(registry_.FetchBlob(request.ref, blob.digest, request.credentials,
                                                [&](absl::string_view chunk) {
                                                  RETURN_IF_ERROR(writer->Write(chunk));
                                                  progress.done = writer->written();
                                                  if (report && request.progress) {
                                                    request.progress(progress);
                                                  }
                                                  return absl::OkStatus();
                                                }));
            RETURN_IF_ERROR(writer->Commit());
            progress.finished = true;
            if (report && request.progress) request.progress(progress);
            return true;
          })
      .status();
}

absl::Status ImagePuller::CommitLayer(const std::string& key, const LayerContent& layer) {
  absl::Status status = snapshots_.Commit(layer.chain_id.ToString(), key);
  if (absl::IsAlreadyExists(status)) {
    // Unpacked meanwhile by someone else (an import): theirs is as good.
    return snapshots_.Remove(key);
  }
  return status;
}

absl::Status ImagePuller::UnpackStoredBlob(const LayerContent& layer,
                                           const std::string& parent_chain_id) {
  std::string key = ExtractKey(layer.chain_id);
  ASSIGN_OR_RETURN(std::string dir, snapshots_.PrepareLayer(key, parent_chain_id));
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(UniqueFd blob, content_.Open(layer.blob.digest));
    absl::StatusOr<LayerApplyResult> result =
        ApplyLayer(FdSource(blob.get()), dir, options_.layer_limits);
    if (!result.ok()) return InLayer(layer, result.status());
    RETURN_IF_ERROR(CheckDiffId(layer, *result));
    return CommitLayer(key, layer);
  }();
  if (!status.ok()) snapshots_.Remove(key).IgnoreError();
  return status;
}

// The blob streams to the content store and, through a socket pair, to an
// unpacking thread: the layer is on disk by the time its last byte arrives.
absl::Status ImagePuller::DownloadAndUnpack(const PullRequest& request, const LayerContent& layer,
                                            const std::string& parent_chain_id) {
  std::string key = ExtractKey(layer.chain_id);
  ASSIGN_OR_RETURN(std::string dir, snapshots_.PrepareLayer(key, parent_chain_id));
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer,
                     content_.Writer(layer.blob.digest, layer.blob.size));
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      return berth::ErrnoStatus("socketpair");
    }
    UniqueFd sender(fds[0]);
    UniqueFd receiver(fds[1]);
    setsockopt(sender.get(), SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof(kSocketBuffer));
    setsockopt(receiver.get(), SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof(kSocketBuffer));

    absl::StatusOr<LayerApplyResult> applied = absl::UnknownError("unpack did not run");
    std::atomic<bool> over_limit{false};
    std::thread unpacker([&] {
      applied = ApplyLayer(FdSource(receiver.get()), dir, options_.layer_limits);
      over_limit = absl::IsResourceExhausted(applied.status());
      // A failed unpack stops the download: the sender sees EPIPE.
      shutdown(receiver.get(), SHUT_RDWR);
    });
    LayerProgress progress{layer.blob.digest, layer.blob.size, 0, false, false};
    bool unpacker_stopped = false;
    absl::Status downloaded = registry_.FetchBlob(
        request.ref, layer.blob.digest, request.credentials, [&](absl::string_view chunk) {
          RETURN_IF_ERROR(writer->Write(chunk));
          // Once the unpack has failed, the rest is still downloaded (not
          // unpacked): corrupt bytes explain a broken tar better than the tar
          // error. Past a cap, though, the layer is refused whatever its bytes.
          if (!unpacker_stopped && !SendAll(sender.get(), chunk).ok()) unpacker_stopped = true;
          if (unpacker_stopped && over_limit) return absl::CancelledError("layer over a cap");
          progress.done = writer->written();
          if (request.progress) request.progress(progress);
          return absl::OkStatus();
        });
    shutdown(sender.get(), SHUT_WR);
    if (!downloaded.ok()) shutdown(sender.get(), SHUT_RDWR);
    unpacker.join();

    // The writer goes uncommitted: nothing of the blob is kept.
    if (over_limit) return InLayer(layer, applied.status());
    RETURN_IF_ERROR(downloaded);
    if (!applied.ok()) {
      RETURN_IF_ERROR(writer->Commit());
      // The blob is what the manifest promised, but the pull failed: keep nothing.
      content_.Delete(layer.blob.digest).IgnoreError();
      return InLayer(layer, applied.status());
    }
    // Verify the blob before the layer becomes visible.
    RETURN_IF_ERROR(writer->Commit());
    absl::Status consistent = CheckDiffId(layer, *applied);
    if (!consistent.ok()) {
      content_.Delete(layer.blob.digest).IgnoreError();
      return consistent;
    }
    progress.finished = true;
    if (request.progress) request.progress(progress);
    return CommitLayer(key, layer);
  }();
  if (!status.ok()) snapshots_.Remove(key).IgnoreError();
  return status;
}

}  // namespace berth::snapshotter
