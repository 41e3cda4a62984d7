#pragma once

// A NetworkManager whose CNI options (config and plugin directories, the
// plugin timeout) can change while berthd runs: each call goes to the
// manager that was current when it started, so a reload never cuts an
// ADD or DEL in half. Results stay in the same cache directory, so a DEL
// after a reload still finds what the ADD before it cached.

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cni/network_manager.h"

namespace berth::cni {

class ReloadableNetworkManager final : public NetworkManager {
 public:
  explicit ReloadableNetworkManager(CniOptions options);

  // Calls from now on use `options`.
  void Reconfigure(CniOptions options);

  absl::Status Ready() override { return Current()->Ready(); }
  absl::StatusOr<AttachResult> Attach(const AttachRequest& request) override {
    return Current()->Attach(request);
  }
  absl::Status Detach(const AttachRequest& request) override { return Current()->Detach(request); }
  absl::Status Check(const AttachRequest& request) override { return Current()->Check(request); }

 private:
  std::shared_ptr<NetworkManager> Current() const;

  mutable absl::Mutex mutex_;
  std::shared_ptr<NetworkManager> current_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace berth::cni
