// StopContainer and RemoveContainer, the pod-wide versions the sandbox
// service calls, and the lookups and runtime calls they share.

#include <signal.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cri/container/container_service.h"
#include "cri/container/rootfs_mount.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

// An image's StopSignal: "SIGQUIT", "QUIT", "3" or "SIGRTMIN+3".
int StopSignalNumber(const std::string& name) {
  if (name.empty()) return SIGTERM;
  int number = 0;
  if (absl::SimpleAtoi(name, &number) && number > 0 && number < NSIG) return number;
  std::string bare = absl::StartsWith(name, "SIG") ? name.substr(3) : name;
  if (absl::StartsWith(bare, "RTMIN+") && absl::SimpleAtoi(bare.substr(6), &number))
    return SIGRTMIN + number;
  if (absl::StartsWith(bare, "RTMAX-") && absl::SimpleAtoi(bare.substr(6), &number))
    return SIGRTMAX - number;
  for (int signal = 1; signal < NSIG; ++signal) {
    const char* abbrev = sigabbrev_np(signal);
    if (abbrev != nullptr && bare == abbrev) return signal;
  }
  spdlog::warn("unknown stop signal {}: using SIGTERM", name);
  return SIGTERM;
}

}  // namespace

std::shared_ptr<ContainerService::Entry> ContainerService::Find(const std::string& id) {
  absl::MutexLock lock(&mutex_);
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<ContainerService::Entry>> ContainerService::Lookup(
    const std::string& prefix) {
  absl::MutexLock lock(&mutex_);
  auto exact = containers_.find(prefix);
  if (exact != containers_.end()) return exact->second;
  std::shared_ptr<Entry> found;
  for (const auto& [id, entry] : containers_) {
    if (prefix.empty() || !absl::StartsWith(id, prefix)) continue;
    if (found != nullptr)
      return absl::NotFoundError(absl::StrCat("container id prefix ", prefix, " is ambiguous"));
    found = entry;
  }
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("container ", prefix, " not found"));
  return found;
}

std::vector<std::shared_ptr<ContainerService::Entry>> ContainerService::EntriesOf(
    const std::string& sandbox_id) {
  std::vector<std::shared_ptr<Entry>> all;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& [id, entry] : containers_) all.push_back(entry);
  }
  std::vector<std::shared_ptr<Entry>> members;
  for (const std::shared_ptr<Entry>& entry : all) {
    absl::MutexLock lock(&entry->mutex);
    if (entry->container.sandbox_id == sandbox_id) members.push_back(entry);
  }
  return members;
}

void ContainerService::Forget(const std::string& id, const std::string& name) {
  absl::MutexLock lock(&mutex_);
  containers_.erase(id);
  auto reserved = names_.find(name);
  if (reserved != names_.end() && reserved->second->id == id) names_.erase(reserved);
  reservation_done_.SignalAll();
}

std::optional<ExternalRuntime> ContainerService::ExternalRuntimeOf(
    const Container& container) const {
  return handlers_.Find(container.runtime_handler);
}

absl::Status ContainerService::KillContainerOf(const Container& container, int signal) {
  bool all = signal == SIGKILL;
  if (std::optional<ExternalRuntime> runtime = ExternalRuntimeOf(container)) {
    std::vector<std::string> args = {"kill"};
    if (all) args.push_back("--all");
    args.push_back(container.id);
    args.push_back(std::to_string(signal));
    (void)RunExternalRuntime(*runtime, args);  // gone already is fine
    return absl::OkStatus();
  }
  absl::Status killed = KillContainer(ExecutorOptions(), container.id, signal, all);
  if (!killed.ok() && !absl::IsNotFound(killed) && !absl::IsFailedPrecondition(killed))
    return killed;
  return absl::OkStatus();
}

absl::Status ContainerService::DeleteContainerOf(const Container& container) {
  if (std::optional<ExternalRuntime> runtime = ExternalRuntimeOf(container)) {
    (void)RunExternalRuntime(*runtime, {"delete", "--force", container.id});
    return absl::OkStatus();
  }
  absl::Status deleted = DeleteContainer(ExecutorOptions(), container.id, /*force=*/true);
  if (!deleted.ok() && !absl::IsNotFound(deleted)) return deleted;
  return absl::OkStatus();
}

absl::Status ContainerService::ReleaseRootfs(Container& container) {
  for (int index = 0; index < container.config.mounts_size(); ++index) {
    if (container.config.mounts(index).image().image().empty()) continue;
    RETURN_IF_ERROR(UnmountSnapshot(container.image_volume_dir(index)));
    RETURN_IF_ERROR(images_.RemoveSnapshot(container.image_volume_key(index)));
  }
  if (container.rootfs_mounted) {
    RETURN_IF_ERROR(UnmountSnapshot(container.rootfs()));
    container.rootfs_mounted = false;
  }
  if (!container.snapshot_key.empty()) RETURN_IF_ERROR(images_.RemoveSnapshot(container.snapshot_key));
  return absl::OkStatus();
}

absl::Status ContainerService::StopLocked(Container& container) {
  if (container.state != runtime::v1::CONTAINER_RUNNING || Refresh(container))
    return absl::OkStatus();
  RETURN_IF_ERROR(KillContainerOf(container, SIGKILL));
  absl::StatusOr<ExitRecord> exit =
      monitors_.WaitForExit(container.monitor_dir(), options_.kill_timeout);
  if (absl::IsDeadlineExceeded(exit.status()))
    return absl::DeadlineExceededError(
        absl::StrCat("container ", container.id, " did not exit after SIGKILL"));
  Refresh(container);
  return absl::OkStatus();
}

absl::Status ContainerService::Stop(const std::string& prefix, int64_t timeout_seconds) {
  absl::StatusOr<std::shared_ptr<Entry>> entry = Lookup(prefix);
  if (absl::IsNotFound(entry.status())) return absl::OkStatus();  // idempotent, as the CRI wants
  RETURN_IF_ERROR(entry.status());
  Container target;
  {
    absl::MutexLock lock(&(*entry)->mutex);
    Container& container = (*entry)->container;
    if (container.state != runtime::v1::CONTAINER_RUNNING || Refresh(container))
      return absl::OkStatus();
    target = container;
  }
  // The grace period passes without the container's lock: kubelet's
  // relists and status calls must not wait for a slow stop.
  absl::Duration grace = absl::Seconds(std::max<int64_t>(timeout_seconds, 0));
  bool exited = false;
  if (grace > absl::ZeroDuration()) {
    RETURN_IF_ERROR(KillContainerOf(target, StopSignalNumber(target.stop_signal)));
    exited = !absl::IsDeadlineExceeded(
        monitors_.WaitForExit(target.monitor_dir(), grace).status());
    if (!exited)
      spdlog::info("container {} outlived its {} grace period: SIGKILL", target.id,
                   absl::FormatDuration(grace));
  }
  bool stopped = false;
  {
    absl::MutexLock lock(&(*entry)->mutex);
    Container& container = (*entry)->container;
    if (exited) {
      stopped = Refresh(container);
    } else {
      bool running = container.state == runtime::v1::CONTAINER_RUNNING;
      RETURN_IF_ERROR(StopLocked(container));
      stopped = running && container.state == runtime::v1::CONTAINER_EXITED;
    }
  }
  if (stopped) Emit(runtime::v1::CONTAINER_STOPPED_EVENT, target.id, target.sandbox_id);
  return absl::OkStatus();
}

absl::Status ContainerService::RemoveLocked(Container& container) {
  RETURN_IF_ERROR(StopLocked(container));
  watcher_->Unwatch(container.id);
  RETURN_IF_ERROR(DeleteContainerOf(container));
  RETURN_IF_ERROR(ReleaseRootfs(container));
  std::error_code error;
  std::filesystem::remove_all(container.dir, error);
  if (error)
    return absl::InternalError(absl::StrCat("remove ", container.dir, ": ", error.message()));
  RETURN_IF_ERROR(
      store_.Update([&](MetadataTables& t) { return t.DeleteContainer(container.id); }));
  return absl::OkStatus();
}

absl::Status ContainerService::Remove(const std::string& prefix) {
  absl::StatusOr<std::shared_ptr<Entry>> entry = Lookup(prefix);
  if (absl::IsNotFound(entry.status())) return absl::OkStatus();  // removing what is gone succeeds
  RETURN_IF_ERROR(entry.status());
  std::string id, sandbox_id, name;
  {
    absl::MutexLock lock(&(*entry)->mutex);
    Container& container = (*entry)->container;
    id = container.id;
    sandbox_id = container.sandbox_id;
    name = container.name;
    RETURN_IF_ERROR(RemoveLocked(container));
  }
  Forget(id, name);
  spdlog::info("container {} ({}) removed", id, name);
  Emit(runtime::v1::CONTAINER_DELETED_EVENT, id, sandbox_id);
  return absl::OkStatus();
}

absl::Status ContainerService::StopPodContainers(const std::string& sandbox_id) {
  for (const std::shared_ptr<Entry>& entry : EntriesOf(sandbox_id)) {
    std::string id;
    bool stopped = false;
    {
      absl::MutexLock lock(&entry->mutex);
      bool running = entry->container.state == runtime::v1::CONTAINER_RUNNING;
      RETURN_IF_ERROR(StopLocked(entry->container));
      stopped = running && entry->container.state == runtime::v1::CONTAINER_EXITED;
      id = entry->container.id;
    }
    if (stopped) Emit(runtime::v1::CONTAINER_STOPPED_EVENT, id, sandbox_id);
  }
  return absl::OkStatus();
}

absl::Status ContainerService::RemovePodContainers(const std::string& sandbox_id) {
  for (const std::shared_ptr<Entry>& entry : EntriesOf(sandbox_id)) {
    std::string id;
    {
      absl::MutexLock lock(&entry->mutex);
      id = entry->container.id;
    }
    RETURN_IF_ERROR(Remove(id));
  }
  return absl::OkStatus();
}

}  // namespace berth::cri
