#include "cri/server/config_reload.h"

#include <unistd.h>

#include <map>
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

// The keys a reload applies, each with how it is carried from the files'
// config into the running one. One table, so the two cannot disagree.
struct LiveKey {
  const char* path;
  void (*take)(const BerthConfig& fresh, BerthConfig& running);
};

#define BERTH_LIVE_KEY(path, field)                                       \
  LiveKey {                                                               \
    path, [](const BerthConfig& f, BerthConfig& r) { r.field = f.field; } \
  }

constexpr LiveKey kLiveKeys[] = {
    BERTH_LIVE_KEY("log_level", log_level),
    BERTH_LIVE_KEY("shutdown_timeout", shutdown_timeout),
    BERTH_LIVE_KEY("image.registries_file", image.registries_file),
    BERTH_LIVE_KEY("image.auth_file", image.auth_file),
    BERTH_LIVE_KEY("image.stall_timeout", image.stall_timeout),
    BERTH_LIVE_KEY("cni.conf_dir", cni.conf_dir),
    BERTH_LIVE_KEY("cni.conf_template", cni.conf_template),
    BERTH_LIVE_KEY("cni.bin_dirs", cni.bin_dirs),
    BERTH_LIVE_KEY("cni.plugin_timeout", cni.plugin_timeout),
    BERTH_LIVE_KEY("stream.max_sessions", stream.max_sessions),
    BERTH_LIVE_KEY("stream.idle_timeout", stream.idle_timeout),
    BERTH_LIVE_KEY("stream.creation_timeout", stream.creation_timeout),
    BERTH_LIVE_KEY("runtime_handlers", runtime_handlers),
};

#undef BERTH_LIVE_KEY

// The running config with `fresh`'s live keys: keys needing a restart
// keep reporting what is in effect.
BerthConfig WithLiveKeys(const BerthConfig& running, const BerthConfig& fresh) {
  BerthConfig merged = running;
  for (const LiveKey& key : kLiveKeys) key.take(fresh, merged);
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

bool IsLiveKey(const std::string& key) {
  for (const LiveKey& live : kLiveKeys)
    if (key == live.path) return true;
  return false;
}

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
