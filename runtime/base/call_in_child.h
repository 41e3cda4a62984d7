#pragma once

#include <functional>

#include "absl/status/status.h"

namespace berth {

// Runs `work` in a forked child and returns the status it returned. What
// `work` loads and allocates stays in the child: a long-lived caller keeps
// its memory small. Only for single-threaded processes (the executor and the
// monitor); berthd never forks.
absl::Status CallInChild(const std::function<absl::Status()>& work);

}  // namespace berth
