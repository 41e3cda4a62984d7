#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace berth::cri {

// berthd's helper programs (berth-monitor, berth-pause), found relative to
// berthd itself: beside it, in ../libexec/berth (an installed prefix), or in
// ../runtime (the build tree). NotFound lists where it looked.
absl::StatusOr<std::string> FindHelperBinary(const std::string& name);

}  // namespace berth::cri
