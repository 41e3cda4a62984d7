#include "runtime/base/json_reader.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace berth {

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, absl::string_view what) {
  nlohmann::json doc =
      nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid JSON"));
  return doc;
}

}  // namespace berth
