#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cni/network_config.h"

namespace berth::cni {

// The config directory's default network (the lexically first valid
// config), re-read when the directory changes: a network installed after
// berthd started (a CNI daemonset writing its conflist) is used without a
// restart. The change check is a stat of the directory and of each config
// file, cheap enough for every call.
class DefaultNetwork {
 public:
  explicit DefaultNetwork(std::string conf_dir) : conf_dir_(std::move(conf_dir)) {}

  // The current default network, or FailedPrecondition saying why there is
  // none (no directory, no config file, or why each file was skipped).
  absl::StatusOr<NetworkList> Get() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Changes whenever a config file is added, removed, replaced or written.
  std::string Fingerprint() const;
  absl::StatusOr<NetworkList> Load() const;

  const std::string conf_dir_;
  absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::string fingerprint_ ABSL_GUARDED_BY(mu_);
  absl::StatusOr<NetworkList> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::cni
