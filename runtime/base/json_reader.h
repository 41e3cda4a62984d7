#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace berth {

// Parses `text` without throwing. `what` names the document for the error:
// ParseJson("{", "config.json") fails with "config.json is not valid JSON".
// Checking the document's shape is the caller's job.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, absl::string_view what);

}  // namespace berth
