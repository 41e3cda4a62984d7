// What berthd does with the containers it finds at startup: running ones
// are watched again (their monitors outlived the old berthd), exits that
// happened meanwhile are recorded, half-made ones are undone, and what
// belongs to no known container is removed.

#include <signal.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cri/container/container_service.h"
#include "cri/container/rootfs_mount.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {

absl::Status ContainerService::Start() {
  watcher_ = std::make_unique<ExitWatcher>([this](const std::string& id) { OnExit(id); });
  std::string containers_dir = options_.state_dir + "/containers";
  RETURN_IF_ERROR(MakeDirectories(containers_dir, 0700));
  ASSIGN_OR_RETURN(std::vector<ContainerRecord> records,
                   store_.Read([](const MetadataTables& t) { return t.ListContainers(); }));
  std::set<std::string> known;
  std::vector<std::string> to_watch;
  std::vector<std::pair<std::string, std::string>> exited_while_down;
  for (const ContainerRecord& record : records) {
    absl::StatusOr<Container> loaded = FromRecord(record);
    if (!loaded.ok()) {
      spdlog::error("container {}: {}; leaving it", record.id, loaded.status().message());
      known.insert(record.id);
      continue;
    }
    Container& container = *loaded;
    bool sandbox_known = sandboxes_.Get(container.sandbox_id).ok();
    if (!container.complete || !sandbox_known) {
      // CreateContainer never returned it, or its pod is gone: undo it all.
      spdlog::warn("container {} ({}) was left {} by a crash: removing it", container.id,
                   container.name, container.complete ? "without its pod" : "half-made");
      container.rootfs_mounted = true;  // the crash may have come between mount and record
      (void)KillContainerOf(container, SIGKILL);
      absl::Status removed = DeleteContainerOf(container);
      if (removed.ok()) removed = ReleaseRootfs(container);
      if (removed.ok()) {
        std::error_code ignored;
        std::filesystem::remove_all(container.dir, ignored);
        (void)store_.Update([&](MetadataTables& t) { return t.DeleteContainer(container.id); });
        continue;
      }
      spdlog::error("container {}: {}; kept for a later retry", container.id, removed.message());
    }
    if (container.state == runtime::v1::CONTAINER_CREATED &&
        (container.monitor_started || std::filesystem::exists(container.monitor_dir()))) {
      // berthd died inside StartContainer: whether the process ran is
      // unknowable, so it is ended and reported as a failed start.
      (void)KillContainerOf(container, SIGKILL);
      (void)monitors_.WaitForExit(container.monitor_dir(), options_.kill_timeout);
      (void)DeleteContainerOf(container);
      container.state = runtime::v1::CONTAINER_EXITED;
      container.finished_at_ns = absl::ToUnixNanos(absl::Now());
      container.exit_code = 128;
      container.reason = "StartError";
      container.message = "berthd restarted while starting the container";
      (void)Persist(container);
    }
    // An exit while berthd was down is recorded now, and told to kubelet
    // when it subscribes again.
    if (Refresh(container)) exited_while_down.emplace_back(container.id, container.sandbox_id);
    if (container.state == runtime::v1::CONTAINER_RUNNING) to_watch.push_back(container.id);
    known.insert(container.id);
    std::string id = container.id, name = container.name;
    auto reservation = std::make_shared<Reservation>(Reservation{
        .id = id,
        .config = absl::StrCat(container.sandbox_id, "/", ConfigFingerprint(container.config)),
        .done = true});
    auto entry = std::make_shared<Entry>();
    {
      absl::MutexLock entry_lock(&entry->mutex);
      entry->container = std::move(container);
    }
    absl::MutexLock lock(&mutex_);
    names_[name] = std::move(reservation);
    containers_[id] = std::move(entry);
  }
  for (const auto& [id, sandbox_id] : exited_while_down)
    Emit(runtime::v1::CONTAINER_STOPPED_EVENT, id, sandbox_id, /*retain=*/true);
  for (const std::string& id : to_watch) {
    MonitorConfig paths{.state_dir = absl::StrCat(containers_dir, "/", id, "/monitor")};
    RETURN_IF_ERROR(watcher_->Watch(id, paths.control_socket()));
  }

  // Directories of containers the store does not know: what a crash left
  // between making the directory and recording it. Their rootfs may still
  // be mounted, and the runtime may have a container by that id.
  std::error_code error;
  for (const auto& dir : std::filesystem::directory_iterator(containers_dir, error)) {
    std::string id = dir.path().filename().string();
    if (known.count(id)) continue;
    spdlog::warn("removing {}: no container of that id is known", dir.path().string());
    Container orphan{.id = id, .dir = dir.path().string()};
    (void)KillContainerOf(orphan, SIGKILL);
    (void)DeleteContainerOf(orphan);
    (void)UnmountSnapshot(orphan.rootfs());
    for (const auto& volume :
         std::filesystem::directory_iterator(dir.path() / "image-volumes", error))
      (void)UnmountSnapshot(volume.path().string());
    (void)images_.RemoveSnapshot("container-" + id);
    std::filesystem::remove_all(dir.path(), error);
  }
  // Snapshots of containers no record names (a crash inside create).
  if (absl::StatusOr<std::vector<std::string>> keys = images_.SnapshotKeys("container-");
      keys.ok()) {
    for (const std::string& key : *keys) {
      if (known.count(ContainerIdOfSnapshot(key))) continue;
      spdlog::warn("removing snapshot {}: no container of that id is known", key);
      (void)images_.RemoveSnapshot(key);
    }
  }
  // Containers the executor still has that are neither a known container
  // nor a pod's pause: delete them, with their processes and cgroups.
  if (absl::StatusOr<std::vector<ContainerInfo>> runtime = ListContainers(ExecutorOptions());
      runtime.ok()) {
    for (const ContainerInfo& info : *runtime) {
      const std::string& id = info.state.id;
      if (known.count(id) || sandboxes_.Get(id).ok()) continue;
      spdlog::warn("deleting runtime container {}: no container or pod of that id is known", id);
      (void)DeleteContainer(ExecutorOptions(), id, /*force=*/true);
    }
  }
  absl::MutexLock lock(&mutex_);
  spdlog::info("{} containers reloaded", containers_.size());
  return absl::OkStatus();
}

}  // namespace berth::cri
