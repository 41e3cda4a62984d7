#include "snapshotter/manifest.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::snapshotter {
namespace {

using nlohmann::json;

std::string StringField(const json& doc, const char* key) {
  return doc.is_object() && doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>()
                                                                      : "";
}

absl::StatusOr<Descriptor> ParseDescriptor(const json& doc, absl::string_view where) {
  if (!doc.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  Descriptor d;
  d.media_type = StringField(doc, "mediaType");
  absl::StatusOr<Digest> digest = Digest::Parse(StringField(doc, "digest"));
  if (!digest.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", digest.status().message()));
  }
  d.digest = *std::move(digest);
  if (!doc.contains("size") || !doc["size"].is_number_integer() || doc["size"].get<int64_t>() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": size is missing or negative"));
  }
  d.size = doc["size"].get<int64_t>();
  if (doc.contains("urls") && doc["urls"].is_array()) {
    for (const json& url : doc["urls"]) {
      if (url.is_string()) d.urls.push_back(url.get<std::string>());
    }
  }
  if (doc.contains("annotations") && doc["annotations"].is_object()) {
    for (const auto& [key, value] : doc["annotations"].items()) {
      if (value.is_string()) d.annotations[key] = value.get<std::string>();
    }
  }
  if (doc.contains("platform") && doc["platform"].is_object()) {
    const json& p = doc["platform"];
    d.has_platform = true;
    d.platform.os = StringField(p, "os");
    d.platform.architecture = StringField(p, "architecture");
    d.platform.variant = StringField(p, "variant");
  }
  return d;
}

absl::StatusOr<json> ParseObject(absl::string_view text, absl::string_view what) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object())
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a JSON object"));
  return doc;
}

std::string NormalizedVariant(const Platform& p) {
  if (p.architecture == "arm64" && p.variant.empty()) return "v8";
  return p.variant;
}

}  // namespace

bool IsIndexMediaType(absl::string_view type) {
  return type == media_type::kOciIndex || type == media_type::kDockerManifestList;
}

bool IsManifestMediaType(absl::string_view type) {
  return type == media_type::kOciManifest || type == media_type::kDockerManifest;
}

bool IsLayerMediaType(absl::string_view type) {
  return type == media_type::kOciLayer || type == media_type::kOciLayerGzip ||
         type == media_type::kOciLayerZstd || type == media_type::kDockerLayerGzip ||
         type == media_type::kDockerForeignLayerGzip ||
         type == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}

Platform HostPlatform() {
  Platform p;
#if defined(__x86_64__)
  p.architecture = "amd64";
#elif defined(__aarch64__)
  p.architecture = "arm64";
  p.variant = "v8";
#elif defined(__arm__)
  p.architecture = "arm";
  p.variant = "v7";
#elif defined(__s390x__)
  p.architecture = "s390x";
#elif defined(__powerpc64__)
  p.architecture = "ppc64le";
#elif defined(__riscv)
  p.architecture = "riscv64";
#endif
  return p;
}

std::string DetectManifestMediaType(absl::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return "";
  if (std::string declared = StringField(doc, "mediaType"); !declared.empty()) return declared;
  if (doc.contains("manifests")) return media_type::kOciIndex;
  if (doc.contains("config") && doc.contains("layers")) return media_type::kOciManifest;
  if (doc.contains("fsLayers")) return media_type::kDockerSchema1Signed;
  return "";
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view text) {
  absl::StatusOr<json> doc = ParseObject(text, "manifest");
  if (!doc.ok()) return doc.status();
  Manifest m;
  m.media_type = DetectManifestMediaType(text);
  if (!IsManifestMediaType(m.media_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest has media type \"", m.media_type, "\", not an image manifest"));
  }
  if (!doc->contains("config")) return absl::InvalidArgumentError("manifest has no config");
  absl::StatusOr<Descriptor> config = ParseDescriptor((*doc)["config"], "manifest config");
  if (!config.ok()) return config.status();
  m.config = *std::move(config);
  if (!doc->contains("layers") || !(*doc)["layers"].is_array()) {
    return absl::InvalidArgumentError("manifest has no layers array");
  }
  int i = 0;
  for (const json& layer : (*doc)["layers"]) {
    absl::StatusOr<Descriptor> d = ParseDescriptor(layer, absl::StrCat("manifest layer ", i++));
    if (!d.ok()) return d.status();
    if (!IsLayerMediaType(d->media_type)) {
      return absl::UnimplementedError(absl::StrCat(
          "layer ", d->digest.ToString(), " has unsupported media type \"", d->media_type, "\""));
    }
    m.layers.push_back(*std::move(d));
  }
  return m;
}

absl::StatusOr<Index> ParseIndex(absl::string_view text) {
  absl::StatusOr<json> doc = ParseObject(text, "index");
  if (!doc.ok()) return doc.status();
  Index index;
  index.media_type = DetectManifestMediaType(text);
  if (!doc->contains("manifests") || !(*doc)["manifests"].is_array()) {
    return absl::InvalidArgumentError("index has no manifests array");
  }
  int i = 0;
  for (const json& entry : (*doc)["manifests"]) {
    absl::StatusOr<Descriptor> d = ParseDescriptor(entry, absl::StrCat("index entry ", i++));
    if (!d.ok()) return d.status();
    index.manifests.push_back(*std::move(d));
  }
  return index;
}

absl::StatusOr<Descriptor> SelectPlatform(const Index& index, const Platform& platform) {
  const Descriptor* fallback = nullptr;
  std::vector<std::string> offered;
  for (const Descriptor& d : index.manifests) {
    if (!d.has_platform) continue;
    offered.push_back(absl::StrCat(d.platform.os, "/", d.platform.architecture,
                                   d.platform.variant.empty() ? "" : "/", d.platform.variant));
    if (d.platform.os != platform.os || d.platform.architecture != platform.architecture) continue;
    if (!IsManifestMediaType(d.media_type) && !d.media_type.empty()) continue;
    if (NormalizedVariant(d.platform) == NormalizedVariant(platform)) return d;
    if (fallback == nullptr && d.platform.variant.empty()) fallback = &d;
  }
  if (fallback != nullptr) return *fallback;
  return absl::NotFoundError(absl::StrCat(
      "no image for ", platform.os, "/", platform.architecture, " in the index (it has: ",
      offered.empty() ? "no platforms" : absl::StrJoin(offered, ", "), ")"));
}

absl::StatusOr<ImageConfigSummary> ParseImageConfig(absl::string_view text) {
  absl::StatusOr<json> doc = ParseObject(text, "image config");
  if (!doc.ok()) return doc.status();
  ImageConfigSummary summary;
  summary.platform.os = StringField(*doc, "os");
  summary.platform.architecture = StringField(*doc, "architecture");
  summary.platform.variant = StringField(*doc, "variant");
  if (doc->contains("config") && (*doc)["config"].is_object()) {
    summary.user = StringField((*doc)["config"], "User");
  }
  if (!doc->contains("rootfs") || !(*doc)["rootfs"].is_object() ||
      !(*doc)["rootfs"].contains("diff_ids") || !(*doc)["rootfs"]["diff_ids"].is_array()) {
    return absl::InvalidArgumentError("image config has no rootfs.diff_ids");
  }
  for (const json& id : (*doc)["rootfs"]["diff_ids"]) {
    absl::StatusOr<Digest> digest = Digest::Parse(id.is_string() ? id.get<std::string>() : "");
    if (!digest.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("image config diff_ids: ", digest.status().message()));
    }
    summary.diff_ids.push_back(*std::move(digest));
  }
  return summary;
}

std::vector<Digest> ChainIds(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> chain;
  for (const Digest& diff_id : diff_ids) {
    if (chain.empty()) {
      chain.push_back(diff_id);
    } else {
      chain.push_back(DigestOf(absl::StrCat(chain.back().ToString(), " ", diff_id.ToString())));
    }
  }
  return chain;
}

}  // namespace berth::snapshotter
