#pragma once

// The RuntimeClass handlers that name another OCI runtime, by name, as a
// reload may change them while pods run.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace berth::cri {

// A RuntimeClass handler that runs pods with another OCI runtime's CLI.
struct ExternalRuntime {
  std::string binary;
  std::string root;  // its --root

  bool operator==(const ExternalRuntime&) const = default;
};

class RuntimeHandlers {
 public:
  explicit RuntimeHandlers(std::map<std::string, ExternalRuntime> handlers = {})
      : handlers_(std::move(handlers)) {}

  // The handler named `name`; nullopt for the default ("", the in-tree
  // executor) and for a name not configured.
  std::optional<ExternalRuntime> Find(const std::string& name) const;
  bool Known(const std::string& name) const { return name.empty() || Find(name).has_value(); }
  // "" first, then the configured names.
  std::vector<std::string> Names() const;

  // Adds the new handlers and changes the changed ones. A handler missing
  // from `handlers` stays until berthd restarts, since the pods made with
  // it are stopped and removed through it; those names are returned.
  std::vector<std::string> Update(const std::map<std::string, ExternalRuntime>& handlers);

 private:
  mutable absl::Mutex mutex_;
  std::map<std::string, ExternalRuntime> handlers_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace berth::cri
