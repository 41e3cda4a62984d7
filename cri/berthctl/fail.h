#pragma once

#include <iostream>

#include "absl/status/status.h"

namespace berth::cri {

// Prints "berthctl: <message>" to stderr; the exit code for a failed command.
inline int Fail(const absl::Status& status) {
  std::cerr << "berthctl: " << status.message() << "\n";
  return 1;
}

}  // namespace berth::cri
