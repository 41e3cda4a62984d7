#include "cni/reloadable_network_manager.h"

#include <utility>

namespace berth::cni {

ReloadableNetworkManager::ReloadableNetworkManager(CniOptions options)
    : current_(NewCniNetworkManager(std::move(options))) {}

void ReloadableNetworkManager::Reconfigure(CniOptions options) {
  std::shared_ptr<NetworkManager> fresh = NewCniNetworkManager(std::move(options));
  absl::MutexLock lock(&mutex_);
  current_ = std::move(fresh);
}

std::shared_ptr<NetworkManager> ReloadableNetworkManager::Current() const {
  absl::MutexLock lock(&mutex_);
  return current_;
}

}  // namespace berth::cni
