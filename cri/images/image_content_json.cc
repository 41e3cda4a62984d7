#include "cri/images/image_content_json.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace berth::cri {

using nlohmann::json;
using snapshotter::Digest;

std::string ImageContentToJson(const snapshotter::ImageContent& image) {
  json doc = {{"manifest", image.manifest_digest.ToString()},
              {"manifest_media_type", image.manifest_media_type},
              {"config", image.config_digest.ToString()},
              {"user", image.user},
              {"size", image.size},
              {"layers", json::array()}};
  if (image.index_digest) doc["index"] = image.index_digest->ToString();
  if (!image.retained.empty()) {
    doc["retained"] = json::array();
    for (const Digest& blob : image.retained) doc["retained"].push_back(blob.ToString());
  }
  for (const snapshotter::LayerContent& layer : image.layers) {
    doc["layers"].push_back({{"digest", layer.blob.digest.ToString()},
                             {"size", layer.blob.size},
                             {"media_type", layer.blob.media_type},
                             {"diff_id", layer.diff_id.ToString()},
                             {"chain_id", layer.chain_id.ToString()}});
  }
  return doc.dump();
}

absl::StatusOr<snapshotter::ImageContent> ImageContentFromJson(const std::string& text,
                                                               const std::string& config) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return absl::DataLossError("image record: extra is not a JSON object");
  try {
    snapshotter::ImageContent image;
    auto digest = [](const json& value) -> absl::StatusOr<Digest> {
      return Digest::Parse(value.get<std::string>());
    };
    absl::StatusOr<Digest> d = digest(doc.at("manifest"));
    if (!d.ok()) return d.status();
    image.manifest_digest = *d;
    d = digest(doc.at("config"));
    if (!d.ok()) return d.status();
    image.config_digest = *d;
    if (doc.contains("index")) {
      d = digest(doc["index"]);
      if (!d.ok()) return d.status();
      image.index_digest = *d;
    }
    image.manifest_media_type = doc.value("manifest_media_type", "");
    image.user = doc.value("user", "");
    image.size = doc.value("size", int64_t{0});
    image.config = config;
    if (doc.contains("retained")) {
      for (const json& blob : doc["retained"]) {
        if (d = digest(blob); !d.ok()) return d.status();
        image.retained.push_back(*d);
      }
    }
    for (const json& layer : doc.at("layers")) {
      snapshotter::LayerContent l;
      if (d = digest(layer.at("digest")); !d.ok()) return d.status();
      l.blob.digest = *d;
      l.blob.size = layer.at("size").get<int64_t>();
      l.blob.media_type = layer.value("media_type", "");
      if (d = digest(layer.at("diff_id")); !d.ok()) return d.status();
      l.diff_id = *d;
      if (d = digest(layer.at("chain_id")); !d.ok()) return d.status();
      l.chain_id = *d;
      image.layers.push_back(std::move(l));
    }
    return image;
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("image record: ", e.what()));
  }
}

}  // namespace berth::cri
