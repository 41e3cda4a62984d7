#pragma once

// The config berthd runs with now: what it started with, then what each
// SIGHUP reload applied. Readers take a copy.

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cri/config/config.h"

namespace berth::cri {

class LiveConfig {
 public:
  explicit LiveConfig(LoadedConfig loaded) : loaded_(std::move(loaded)) {}

  LoadedConfig Get() const {
    absl::MutexLock lock(&mutex_);
    return loaded_;
  }
  void Set(LoadedConfig loaded) {
    absl::MutexLock lock(&mutex_);
    loaded_ = std::move(loaded);
  }

 private:
  mutable absl::Mutex mutex_;
  LoadedConfig loaded_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace berth::cri
