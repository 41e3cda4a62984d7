#pragma once

// SIGHUP: berthd reads its config files again and applies what can change
// while pods run. Everything is checked before anything is applied: a bad
// file keeps the running config. Keys that cannot change live are named
// as needing a restart; they keep their running values.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cni/reloadable_network_manager.h"
#include "cri/config/live_config.h"
#include "cri/sandbox/runtime_handlers.h"

namespace berth::snapshotter {
class DistributionClient;
}
namespace berth::streaming {
class StreamingServer;
}

namespace berth::cri {

class ContainerService;
class SandboxService;

// Where a reload's changes go (none owned).
struct ReloadTargets {
  LiveConfig* config = nullptr;
  snapshotter::DistributionClient* registry = nullptr;
  cni::ReloadableNetworkManager* network = nullptr;
  std::function<cni::CniOptions(const BerthConfig&)> cni_options;
  SandboxService* sandboxes = nullptr;
  ContainerService* containers = nullptr;
  streaming::StreamingServer* streaming = nullptr;
};

struct ReloadReport {
  std::vector<std::string> applied;        // changed keys now in effect
  std::vector<std::string> need_restart;   // changed keys still at their running value
  std::vector<std::string> handlers_kept;  // handlers gone from the files, kept until restart
};

// The handlers besides the default, checked to be executables, with their
// roots defaulted (<state_dir>/runtimes/<name>).
absl::StatusOr<std::map<std::string, ExternalRuntime>> RuntimeHandlersFrom(
    const BerthConfig& config);

// The keys a reload applies live.
bool IsLiveKey(const std::string& key);

// Keys whose values differ between `running` and `fresh`.
std::vector<std::string> ChangedKeys(const BerthConfig& running, const BerthConfig& fresh);

// Checks `fresh` (registries and credentials files, handler binaries), then
// applies its live keys. The registries and credentials files are read
// again even when their paths did not change: editing them is what a
// reload is for. The running config keeps the values of keys that need a
// restart.
absl::StatusOr<ReloadReport> ApplyReload(LoadedConfig fresh, const ReloadTargets& targets);

}  // namespace berth::cri
