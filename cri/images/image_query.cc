// ListImages, ImageStatus, and resolving what an ImageSpec names.

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "cri/grpc_status.h"
#include "cri/images/image_content_json.h"
#include "cri/images/image_service.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/reference.h"

namespace berth::cri {
namespace {

// kubelet wants the image's default user as a uid when it is numeric
// ("1000", "1000:1000") and as a name otherwise ("nobody", "app:staff").
void SetUser(const std::string& user, runtime::v1::Image& image) {
  if (user.empty()) return;
  std::string name = user.substr(0, user.find(':'));
  int64_t uid;
  if (absl::SimpleAtoi(name, &uid)) {
    image.mutable_uid()->set_value(uid);
  } else {
    image.set_username(name);
  }
}

runtime::v1::Image ToCriImage(const ImageRecord& record) {
  runtime::v1::Image image;
  image.set_id(record.id);
  for (const std::string& name : record.names) {
    if (absl::StrContains(name, '@')) {
      image.add_repo_digests(name);
    } else {
      image.add_repo_tags(name);
    }
  }
  image.set_size(static_cast<uint64_t>(record.size));
  image.mutable_spec()->set_image(record.id);
  image.set_pinned(record.pinned);
  absl::StatusOr<snapshotter::ImageContent> content =
      ImageContentFromJson(record.extra, record.config);
  if (content.ok()) SetUser(content->user, image);
  return image;
}

}  // namespace

absl::StatusOr<ImageRecord> CriImageService::ResolveImage(const std::string& spec) const {
  if (spec.empty()) return absl::InvalidArgumentError("image spec is empty");
  if (snapshotter::LooksLikeImageId(spec)) {
    std::string id = absl::StartsWith(spec, "sha256:") ? spec : "sha256:" + spec;
    absl::StatusOr<ImageRecord> by_id =
        deps_.store->Read([&](const MetadataTables& t) { return t.GetImage(id); });
    // A bare 64-hex string could also be a repository name; "sha256:..." cannot.
    if (by_id.ok() || !absl::IsNotFound(by_id.status()) || absl::StartsWith(spec, "sha256:")) {
      return by_id;
    }
    // Not a valid repository either: an id of no image here, so NotFound
    // (RemoveImage of it must succeed, ImageStatus be empty).
    if (!snapshotter::ParseImageReference(spec).ok()) return by_id;
  }
  ASSIGN_OR_RETURN(snapshotter::ImageReference ref, snapshotter::ParseImageReference(spec));
  std::string name = ref.digest ? ref.DigestName() : ref.TagName();
  return deps_.store->Read([&](const MetadataTables& t) { return t.FindImageByName(name); });
}

grpc::Status CriImageService::ListImages(grpc::ServerContext*,
                                         const runtime::v1::ListImagesRequest* request,
                                         runtime::v1::ListImagesResponse* response) {
  const std::string& filter = request->filter().image().image();
  if (!filter.empty()) {
    absl::StatusOr<ImageRecord> image = ResolveImage(filter);
    if (image.ok()) *response->add_images() = ToCriImage(*image);
    // A filter naming no image (or nothing valid) matches nothing.
    return grpc::Status::OK;
  }
  absl::StatusOr<std::vector<ImageRecord>> images =
      deps_.store->Read([](const MetadataTables& t) { return t.ListImages(); });
  if (!images.ok()) return ToGrpcStatus(images.status());
  for (const ImageRecord& image : *images) *response->add_images() = ToCriImage(image);
  return grpc::Status::OK;
}

grpc::Status CriImageService::ImageStatus(grpc::ServerContext*,
                                          const runtime::v1::ImageStatusRequest* request,
                                          runtime::v1::ImageStatusResponse* response) {
  absl::StatusOr<ImageRecord> image = ResolveImage(request->image().image());
  // The CRI answers an absent image with an empty response, not an error.
  if (absl::IsNotFound(image.status())) return grpc::Status::OK;
  if (!image.ok()) return ToGrpcStatus(image.status());
  *response->mutable_image() = ToCriImage(*image);
  if (request->verbose()) {
    nlohmann::json info = nlohmann::json::object();
    absl::StatusOr<snapshotter::ImageContent> content =
        ImageContentFromJson(image->extra, image->config);
    if (content.ok()) {
      info["manifestDigest"] = content->manifest_digest.ToString();
      info["chainID"] = content->TopChainId();
      info["unpacked"] = deps_.puller->IsUnpacked(*content);
    }
    nlohmann::json config = nlohmann::json::parse(image->config, nullptr, false);
    if (!config.is_discarded()) info["imageSpec"] = config;
    (*response->mutable_info())["info"] = info.dump();
  }
  return grpc::Status::OK;
}

}  // namespace berth::cri
