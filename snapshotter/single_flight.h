#pragma once

// Runs one operation per key at a time; callers arriving while it runs wait
// and share its result instead of repeating the work (two pulls of one
// image, two images with a common layer).

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace berth::snapshotter {

template <typename T>
class SingleFlight {
 public:
  absl::StatusOr<T> Do(const std::string& key, const std::function<absl::StatusOr<T>()>& work) {
    std::shared_ptr<Call> call;
    bool leader = false;
    {
      absl::MutexLock lock(&mutex_);
      auto [it, inserted] = calls_.try_emplace(key, nullptr);
      if (inserted) {
        it->second = std::make_shared<Call>();
        leader = true;
      }
      call = it->second;
    }
    if (!leader) {
      absl::MutexLock lock(&call->mutex);
      call->mutex.Await(absl::Condition(&call->done));
      return call->result;
    }
    absl::StatusOr<T> result = work();
    {
      absl::MutexLock lock(&mutex_);
      calls_.erase(key);
    }
    absl::MutexLock lock(&call->mutex);
    call->result = result;
    call->done = true;
    return result;
  }

 private:
  struct Call {
    absl::Mutex mutex;
    bool done = false;
    absl::StatusOr<T> result = absl::UnknownError("not finished");
  };

  absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<Call>> calls_;
};

}  // namespace berth::snapshotter
