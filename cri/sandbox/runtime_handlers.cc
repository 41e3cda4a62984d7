#include "cri/sandbox/runtime_handlers.h"

namespace berth::cri {

std::optional<ExternalRuntime> RuntimeHandlers::Find(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  auto it = handlers_.find(name);
  if (it == handlers_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> RuntimeHandlers::Names() const {
  absl::MutexLock lock(&mutex_);
  std::vector<std::string> names = {""};
  for (const auto& [name, runtime] : handlers_) names.push_back(name);
  return names;
}

std::vector<std::string> RuntimeHandlers::Update(
    const std::map<std::string, ExternalRuntime>& handlers) {
  absl::MutexLock lock(&mutex_);
  std::vector<std::string> kept;
  for (const auto& [name, runtime] : handlers_)
    if (!handlers.contains(name)) kept.push_back(name);
  for (const auto& [name, runtime] : handlers) handlers_[name] = runtime;
  return kept;
}

}  // namespace berth::cri
