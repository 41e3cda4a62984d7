#pragma once

// Named undo steps, run in reverse when a multi-step operation fails part
// way: every step that made something pushes how to unmake it.
//
//   Rollback rollback;
//   RETURN_IF_ERROR(CreateNetns(...));
//   rollback.Push("remove netns", [&] { return RemoveNetns(...); });
//   ...
//   rollback.Commit();  // success: nothing is undone

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "runtime/base/logging.h"

namespace berth::cri {

class Rollback {
 public:
  Rollback() = default;
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    if (committed_) return;
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      absl::Status status = it->second();
      if (!status.ok()) spdlog::warn("rollback: {} failed: {}", it->first, status.message());
    }
  }

  void Push(std::string name, std::function<absl::Status()> undo) {
    steps_.emplace_back(std::move(name), std::move(undo));
  }
  void Commit() { committed_ = true; }

 private:
  std::vector<std::pair<std::string, std::function<absl::Status()>>> steps_;
  bool committed_ = false;
};

}  // namespace berth::cri
