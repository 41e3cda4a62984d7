// PullImage: resolve, fetch and unpack through the puller, then record the
// image under its tag and repo digest.

#include <atomic>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cri/grpc_status.h"
#include "cri/images/image_content_json.h"
#include "cri/images/image_service.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/registry_auth.h"
#include "spdlog/spdlog.h"

namespace berth::cri {
namespace {

absl::StatusOr<snapshotter::RegistryCredentials> CredentialsFrom(
    const runtime::v1::AuthConfig& auth) {
  snapshotter::RegistryCredentials credentials;
  if (!auth.auth().empty()) {
    absl::StatusOr<snapshotter::RegistryCredentials> decoded =
        snapshotter::DecodeBasicAuth(auth.auth());
    if (!decoded.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("auth config: ", decoded.status().message()));
    }
    credentials = *std::move(decoded);
  }
  if (!auth.username().empty()) credentials.username = auth.username();
  if (!auth.password().empty()) credentials.password = auth.password();
  credentials.identity_token = auth.identity_token();
  credentials.registry_token = auth.registry_token();
  return credentials;
}

}  // namespace

absl::StatusOr<ImageRecord> CriImageService::Record(const snapshotter::ImageContent& content,
                                                    const std::vector<std::string>& names,
                                                    bool pin) {
  ImageRecord record;
  record.id = content.config_digest.ToString();
  record.size = content.size;
  record.config = content.config;
  record.extra = ImageContentToJson(content);
  record.created_at_ns = absl::ToUnixNanos(absl::Now());
  record.pinned = pin;
  RETURN_IF_ERROR(deps_.store->Update([&](MetadataTables& t) -> absl::Status {
    absl::StatusOr<ImageRecord> existing = t.GetImage(record.id);
    if (existing.ok()) {
      record.names = existing->names;
      record.pinned = existing->pinned || pin;
      record.created_at_ns = existing->created_at_ns;
      // Blobs kept for other platforms stay kept.
      absl::StatusOr<snapshotter::ImageContent> old =
          ImageContentFromJson(existing->extra, existing->config);
      if (old.ok() && old->retained.size() > content.retained.size()) {
        record.extra = existing->extra;
      }
    } else if (!absl::IsNotFound(existing.status())) {
      return existing.status();
    }
    for (const std::string& name : names) {
      if (!name.empty() &&
          std::find(record.names.begin(), record.names.end(), name) == record.names.end()) {
        record.names.push_back(name);
      }
    }
    return t.PutImage(record);
  }));
  return record;
}

absl::StatusOr<std::string> CriImageService::Pull(
    const runtime::v1::PullImageRequest& request,
    std::function<void(const snapshotter::LayerProgress&)> progress) {
  ASSIGN_OR_RETURN(snapshotter::ImageReference ref,
                   snapshotter::ParseImageReference(request.image().image()));
  ASSIGN_OR_RETURN(snapshotter::RegistryCredentials credentials, CredentialsFrom(request.auth()));
  // Pulls of one image with the same credentials share one operation;
  // different credentials must each prove their access.
  std::string key =
      absl::StrCat(ref.ToString(), " ",
                   snapshotter::DigestOf(
                       absl::StrCat(credentials.username, ":", credentials.password, ":",
                                    credentials.identity_token, ":", credentials.registry_token))
                       .hex());
  absl::Time started = absl::Now();
  std::atomic<uint64_t> downloaded{0};
  absl::StatusOr<std::string> id = pulls_.Do(key, [&]() -> absl::StatusOr<std::string> {
    absl::ReaderMutexLock gc_lock(&gc_mutex_);
    snapshotter::PullRequest pull;
    pull.ref = ref;
    pull.credentials = credentials;
    pull.progress = [&](const snapshotter::LayerProgress& layer) {
      if (layer.finished && !layer.cached) downloaded += static_cast<uint64_t>(layer.total);
      if (progress) progress(layer);
    };
    ASSIGN_OR_RETURN(snapshotter::ImageContent content, deps_.puller->Pull(pull));
    // The repo digest names what the reference resolved to: the index for
    // a multi-platform image, as `docker pull` prints it.
    snapshotter::ImageReference resolved = ref;
    resolved.digest = content.index_digest ? *content.index_digest : content.manifest_digest;
    ASSIGN_OR_RETURN(
        ImageRecord record,
        Record(content, {ref.tag.empty() ? "" : ref.TagName(), resolved.DigestName()}, false));
    spdlog::info("pulled {} as {} ({} layers, {} bytes) in {}", ref.ToString(), record.id,
                 content.layers.size(), content.size, absl::FormatDuration(absl::Now() - started));
    return record.id;
  });
  deps_.metrics->PullDone(id.ok() ? "" : absl::StatusCodeToString(id.status().code()), downloaded,
                          absl::Now() - started);
  if (!id.ok()) CollectGarbageIfIdle();
  return id;
}

grpc::Status CriImageService::PullImage(grpc::ServerContext*,
                                        const runtime::v1::PullImageRequest* request,
                                        runtime::v1::PullImageResponse* response) {
  absl::StatusOr<std::string> id = Pull(*request);
  if (!id.ok()) {
    spdlog::warn("pull {} failed: {}", request->image().image(), id.status().ToString());
    return ToGrpcStatus(id.status());
  }
  response->set_image_ref(*id);
  return grpc::Status::OK;
}

}  // namespace berth::cri
