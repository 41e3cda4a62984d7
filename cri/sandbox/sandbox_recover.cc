// What berthd does with the sandboxes it finds at startup: it reconnects to
// them (their monitors outlived the old berthd), undoes the ones a crash
// left half-made, and retries the CNI DELs still owed.

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "cri/sandbox/sandbox_service.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

// The pause rootfs: a read-only directory holding /pause and the mount
// points of its spec, made here since a pause in a user namespace may not
// create them.
absl::Status PreparePauseRootfs(const std::string& rootfs, const std::string& pause_binary) {
  RETURN_IF_ERROR(MakeDirectories(rootfs, 0755));
  for (const char* mount_point : {"/proc", "/dev"})
    RETURN_IF_ERROR(MakeDirectories(rootfs + mount_point, 0755));
  std::string target = rootfs + "/pause";
  std::string staging = target + ".new";
  std::error_code error;
  std::filesystem::copy_file(pause_binary, staging,
                             std::filesystem::copy_options::overwrite_existing, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("copy ", pause_binary, " into the pause rootfs: ", error.message()));
  }
  if (::chmod(staging.c_str(), 0755) != 0) return ErrnoStatus("chmod " + staging);
  if (::rename(staging.c_str(), target.c_str()) != 0) return ErrnoStatus("rename " + staging);
  return absl::OkStatus();
}

}  // namespace

void SandboxService::RemoveUnknownSandboxDirs() {
  std::string root = options_.state_dir + "/sandboxes";
  std::error_code error;
  for (const auto& dir : std::filesystem::directory_iterator(root, error)) {
    std::string id = dir.path().filename().string();
    if (Find(id) != nullptr) continue;
    // A crash between making the directory and recording the sandbox.
    spdlog::warn("removing {}: no pod sandbox of that id is known", dir.path().string());
    for (const char* mount : {"/shm", "/rootfs"}) {
      std::string path = dir.path().string() + mount;
      if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        spdlog::warn("unmount {}: {}", path, strerror(errno));
    }
    std::filesystem::remove_all(dir.path(), error);
  }
}

absl::Status SandboxService::Start() {
  RETURN_IF_ERROR(PreparePauseRootfs(PauseRootfs(), options_.pause_binary));
  RETURN_IF_ERROR(MakeDirectories(options_.state_dir + "/sandboxes", 0700));
  ASSIGN_OR_RETURN(std::vector<SandboxRecord> records,
                   store_.Read([](const MetadataTables& t) { return t.ListSandboxes(); }));
  for (const SandboxRecord& record : records) {
    absl::StatusOr<Sandbox> loaded = FromRecord(record);
    if (!loaded.ok()) {
      spdlog::error("sandbox {}: {}; leaving it", record.id, loaded.status().message());
      continue;
    }
    Sandbox& sandbox = *loaded;
    if (!sandbox.complete) {
      // RunPodSandbox never returned it: undo every step it may have made.
      spdlog::warn("sandbox {} ({}) was left half-made by a crash: removing it", sandbox.id,
                   sandbox.name);
      // The crash may have come between a step and its record.
      sandbox.shm_mounted = true;
      absl::Status stopped = StopLocked(sandbox);
      if (!stopped.ok()) {
        spdlog::error("sandbox {}: {}; kept for a later retry", sandbox.id, stopped.message());
      } else {
        (void)DeleteContainerOf(sandbox);
        (void)ReleaseRootfs(sandbox);
        std::error_code ignored;
        std::filesystem::remove_all(sandbox.dir, ignored);
        (void)store_.Update([&](MetadataTables& t) { return t.DeleteSandbox(sandbox.id); });
        continue;
      }
    } else if (sandbox.state == runtime::v1::SANDBOX_NOTREADY && sandbox.network_attached) {
      absl::Status stopped = StopLocked(sandbox);  // the owed DEL
      if (!stopped.ok()) spdlog::warn("sandbox {}: {}", sandbox.id, stopped.message());
    }
    std::string id = sandbox.id, name = sandbox.name;
    auto reservation = std::make_shared<Reservation>(
        Reservation{.id = id, .config = ConfigFingerprint(sandbox.config), .done = true});
    auto entry = std::make_shared<Entry>();
    {
      absl::MutexLock entry_lock(&entry->mutex);
      entry->sandbox = std::move(sandbox);
    }
    absl::MutexLock lock(&mutex_);
    names_[name] = std::move(reservation);
    sandboxes_[id] = std::move(entry);
  }
  RemoveUnknownSandboxDirs();
  absl::MutexLock lock(&mutex_);
  spdlog::info("{} pod sandboxes reloaded", sandboxes_.size());
  return absl::OkStatus();
}

}  // namespace berth::cri
