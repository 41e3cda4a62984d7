#include "cri/server/config_reload.h"

#include <unistd.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cri/container/container_service.h"
#include "cri/images/image_stack.h"
#include "cri/sandbox/sandbox_service.h"
#include "cri/streaming/streaming_server.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"
#include "snapshotter/registry_client.h"

namespace berth::cri {
namespace {

const std::set<std::string>& LiveKeys() {
  static const std::set<std::string> keys = {
      "log_level",           "shutdown_timeout",        "image.registries_file",
      "image.auth_file",     "image.stall_timeout",     "cni.conf_dir",
      "cni.bin_dirs",        "cni.plugin_timeout",      "stream.max_sessions",
      "stream.idle_timeout", "stream.creation_timeout", "runtime_handlers"};
  return keys;
}

// The running config with `fresh`'s live keys: keys needing a restart
// keep reporting what is in effect.
BerthConfig WithLiveKeys(const BerthConfig& running, const BerthConfig& fresh) {
  BerthConfig merged = running;
  merged.log_level = fresh.log_level;
  merged.shutdown_timeout = fresh.shutdown_timeout;
  merged.image.registries_file = fresh.image.registries_file;
  merged.image.auth_file = fresh.image.auth_file;
  merged.image.stall_timeout = fresh.image.stall_timeout;
  merged.cni.conf_dir = fresh.cni.conf_dir;
  merged.cni.bin_dirs = fresh.cni.bin_dirs;
  merged.cni.plugin_timeout = fresh.cni.plugin_timeout;
  merged.stream.max_sessions = fresh.stream.max_sessions;
  merged.stream.idle_timeout = fresh.stream.idle_timeout;
  merged.stream.creation_timeout = fresh.stream.creation_timeout;
  merged.runtime_handlers = fresh.runtime_handlers;
  return merged;
}

}  // namespace

absl::StatusOr<std::map<std::string, ExternalRuntime>> RuntimeHandlersFrom(
    const BerthConfig& config) {
  std::map<std::string, ExternalRuntime> handlers;
  for (const auto& [name, handler] : config.runtime_handlers) {
    if (::access(handler.binary.c_str(), X_OK) != 0)
      return absl::InvalidArgumentError(
          absl::StrCat("runtime_handlers.", name, ": ", handler.binary, " is not an executable"));
    handlers[name] = {.binary = handler.binary,
                      .root = handler.root.empty()
                                  ? absl::StrCat(config.state_dir, "/runtimes/", name)
                                  : handler.root};
  }
  return handlers;
}

bool IsLiveKey(const std::string& key) { return LiveKeys().contains(key); }

std::vector<std::string> ChangedKeys(const BerthConfig& running, const BerthConfig& fresh) {
  std::map<std::string, std::string> before = ConfigValues(running);
  std::map<std::string, std::string> after = ConfigValues(fresh);
  std::vector<std::string> changed;
  for (const auto& [key, value] : after)
    if (before[key] != value) changed.push_back(key);
  return changed;
}

absl::StatusOr<ReloadReport> ApplyReload(LoadedConfig fresh, const ReloadTargets& targets) {
  LoadedConfig running = targets.config->Get();
  // Everything that can fail, before anything changes.
  spdlog::level::level_enum level = spdlog::level::from_str(fresh.config.log_level);
  ASSIGN_OR_RETURN(snapshotter::RegistryOptions registry, RegistryOptionsFrom(fresh.config));
  ASSIGN_OR_RETURN(auto handlers, RuntimeHandlersFrom(fresh.config));

  ReloadReport report;
  for (const std::string& key : ChangedKeys(running.config, fresh.config))
    (IsLiveKey(key) ? report.applied : report.need_restart).push_back(key);

  spdlog::set_level(level);
  if (targets.registry != nullptr) targets.registry->Reconfigure(std::move(registry));
  if (targets.network != nullptr && targets.cni_options)
    targets.network->Reconfigure(targets.cni_options(fresh.config));
  if (targets.sandboxes != nullptr)
    report.handlers_kept = targets.sandboxes->UpdateHandlers(handlers);
  if (targets.containers != nullptr) targets.containers->UpdateHandlers(handlers);
  if (targets.streaming != nullptr)
    targets.streaming->SetLimits(fresh.config.stream.max_sessions, fresh.config.stream.idle_timeout,
                                 fresh.config.stream.creation_timeout);
  // Sources and files are the new ones; values needing a restart stay.
  fresh.config = WithLiveKeys(running.config, fresh.config);
  targets.config->Set(std::move(fresh));
  return report;
}

}  // namespace berth::cri
