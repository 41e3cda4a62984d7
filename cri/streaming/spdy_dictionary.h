#pragma once

#include "absl/strings/string_view.h"

namespace berth::streaming {

// The dictionary every SPDY/3 header block's zlib stream starts from.
absl::string_view SpdyHeaderDictionary();

}  // namespace berth::streaming
