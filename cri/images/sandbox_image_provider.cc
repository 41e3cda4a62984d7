#include "cri/images/sandbox_image_provider.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cri/images/image_content_json.h"
#include "nlohmann/json.hpp"
#include "runtime/base/json_reader.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {

absl::StatusOr<PauseImage> SandboxImageProvider::Ensure(const std::string& reference) {
  absl::StatusOr<ImageRecord> image = images_.ResolveImage(reference);
  if (absl::IsNotFound(image.status())) {
    runtime::v1::PullImageRequest pull;
    pull.mutable_image()->set_image(reference);
    RETURN_IF_ERROR(images_.Pull(pull).status());
    image = images_.ResolveImage(reference);
  }
  RETURN_IF_ERROR(image.status());
  if (!image->pinned) {
    RETURN_IF_ERROR(store_.Update([&](MetadataTables& t) {
      ASSIGN_OR_RETURN(ImageRecord record, t.GetImage(image->id));
      record.pinned = true;
      return t.PutImage(record);
    }));
  }
  RETURN_IF_ERROR(images_.EnsureUnpacked(*image));
  ASSIGN_OR_RETURN(snapshotter::ImageContent content,
                   ImageContentFromJson(image->extra, image->config));
  ASSIGN_OR_RETURN(nlohmann::json config, ParseJson(image->config, "image config " + image->id));
  PauseImage pause{.image_id = image->id, .top_layer = content.TopChainId()};
  const nlohmann::json run = config.value("config", nlohmann::json::object());
  for (const char* key : {"Entrypoint", "Cmd"}) {
    if (run.contains(key) && run[key].is_array()) {
      for (const nlohmann::json& arg : run[key])
        if (arg.is_string()) pause.args.push_back(arg);
    }
  }
  if (pause.args.empty())
    return absl::FailedPreconditionError(
        absl::StrCat("sandbox image ", reference, " runs nothing"));
  if (run.contains("Env") && run["Env"].is_array()) {
    for (const nlohmann::json& entry : run["Env"])
      if (entry.is_string()) pause.env.push_back(entry);
  }
  if (run.contains("WorkingDir") && run["WorkingDir"].is_string() &&
      !run["WorkingDir"].get<std::string>().empty()) {
    pause.cwd = run["WorkingDir"];
  }
  std::string user = run.value("User", "");
  if (!user.empty()) {
    std::vector<std::string> parts = absl::StrSplit(user, ':');
    uint32_t uid = 0, gid = 0;
    if (absl::SimpleAtoi(parts[0], &uid)) {
      pause.uid = uid;
      pause.gid = parts.size() > 1 && absl::SimpleAtoi(parts[1], &gid) ? gid : uid;
    }
  }
  return pause;
}

absl::StatusOr<std::vector<snapshotter::Mount>> SandboxImageProvider::View(
    const std::string& key, const std::string& top_layer) {
  return snapshots_.View(key, top_layer);
}

absl::Status SandboxImageProvider::RemoveView(const std::string& key) {
  absl::Status removed = snapshots_.Remove(key);
  if (absl::IsNotFound(removed)) return absl::OkStatus();
  return removed;
}

}  // namespace berth::cri
