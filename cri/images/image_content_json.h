#pragma once

// An image's make-up (manifest, layers, chain IDs) as the JSON kept in the
// image record's `extra` column.

#include <string>

#include "absl/status/statusor.h"
#include "snapshotter/image_puller.h"

namespace berth::cri {

std::string ImageContentToJson(const snapshotter::ImageContent& image);
// `config` is the record's config column (the image config JSON).
absl::StatusOr<snapshotter::ImageContent> ImageContentFromJson(const std::string& json,
                                                               const std::string& config);

}  // namespace berth::cri
