// CreateContainer: reserve the name -> resolve the image -> a writable
// snapshot mounted as the rootfs -> the user from the image's files -> the
// OCI spec in the bundle -> CREATED. The process itself is made by
// StartContainer. Every step pushes its undo; a failure leaves nothing.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cri/container/container_service.h"
#include "cri/container/container_spec.h"
#include "cri/container/image_user.h"
#include "cri/container/rootfs_mount.h"
#include "cri/container/seccomp_profiles.h"
#include "cri/sandbox/pause_spec.h"
#include "cri/sandbox/pod_user_namespace.h"
#include "cri/sandbox/rollback.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/logging.h"
#include "runtime/base/path_in_root.h"
#include "runtime/base/status_macros.h"
#include "runtime/lsm.h"
#include "runtime/oci/spec_parse.h"

namespace berth::cri {
namespace {


bool CgroupV2(const std::string& root) {
  return std::filesystem::exists(root + "/cgroup.controllers");
}

bool SwapAccounting(const std::string& root) {
  return std::filesystem::exists(root + "/memory/memory.memsw.limit_in_bytes") ||
         (CgroupV2(root) && std::filesystem::exists(root + "/memory.swap.max")) ||
         (CgroupV2(root) && !std::filesystem::exists(root + "/memory.stat"));
}

// The log's directory beneath the pod's log directory, made without
// following a symlink out of it.
// The image's VOLUMEs as directories in the container's writable layer
// (CRI-O's default "mkdir" policy), unless kubelet mounts something there;
// made inside the rootfs, so a symlink in the image cannot point them out.
// Directories berthd makes in a rootfs are owned by the container's root:
// in a user namespace, the pod's host ids (`idmap`), not the host's root.
absl::Status CreateDirectoryInRoot(int root, const std::string& path, const RootfsIdmap* idmap) {
  std::vector<std::string> missing;
  if (idmap != nullptr) {
    std::string prefix;
    for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
      absl::StrAppend(&prefix, "/", part);
      if (absl::IsNotFound(OpenInRoot(root, prefix, O_PATH).status())) missing.push_back(prefix);
    }
  }
  RETURN_IF_ERROR(CreateInRoot(root, path, /*directory=*/true).status());
  for (const std::string& dir : missing) {
    ASSIGN_OR_RETURN(UniqueFd made, OpenInRoot(root, dir, O_PATH));
    if (::fchownat(made.get(), "", idmap->root_uid, idmap->root_gid,
                   AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
      return ErrnoStatus("give " + dir + " to the pod's root");
  }
  return absl::OkStatus();
}

absl::Status MakeImageVolumes(const std::string& rootfs, const std::vector<std::string>& volumes,
                              const runtime::v1::ContainerConfig& config,
                              const RootfsIdmap* idmap) {
  if (volumes.empty()) return absl::OkStatus();
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoStatus("open rootfs " + rootfs);
  for (const std::string& volume : volumes) {
    bool mounted = false;
    for (const runtime::v1::Mount& mount : config.mounts())
      mounted |= LexicallyClean(mount.container_path()) == LexicallyClean(volume);
    if (mounted || LexicallyClean(volume).empty()) continue;
    absl::Status made = CreateDirectoryInRoot(root.get(), volume, idmap);
    if (!made.ok())
      return absl::Status(made.code(), absl::StrCat("image volume ", volume, ": ", made.message()));
  }
  return absl::OkStatus();
}

absl::Status PrepareLogDirectory(const std::string& log_directory, const std::string& log_path) {
  if (log_directory.empty() || log_path.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(MakeDirectories(log_directory, 0755));
  size_t slash = log_path.rfind('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  UniqueFd root(::open(log_directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoStatus("open log directory " + log_directory);
  return CreateInRoot(root.get(), log_path.substr(0, slash), /*directory=*/true).status();
}


}  // namespace

absl::StatusOr<std::string> ContainerService::Create(
    const runtime::v1::CreateContainerRequest& request) {
  const runtime::v1::ContainerConfig& config = request.config();
  if (config.metadata().name().empty())
    return absl::InvalidArgumentError("container metadata needs a name");
  if (config.image().image().empty())
    return absl::InvalidArgumentError("container config names no image");
  ASSIGN_OR_RETURN(std::string sandbox_id, sandboxes_.ResolveId(request.pod_sandbox_id()));
  ASSIGN_OR_RETURN(Sandbox sandbox, sandboxes_.Get(sandbox_id));
  if (sandbox.state != runtime::v1::SANDBOX_READY)
    return absl::FailedPreconditionError(
        absl::StrCat("pod sandbox ", sandbox_id, " is not ready"));

  std::string name = ContainerName(config.metadata(), sandbox.name);
  std::string fingerprint = absl::StrCat(sandbox_id, "/", ConfigFingerprint(config));
  std::shared_ptr<Reservation> reservation;
  {
    absl::MutexLock lock(&mutex_);
    for (;;) {
      auto taken = names_.find(name);
      if (taken == names_.end()) break;
      if (taken->second->config != fingerprint) {
        return absl::AlreadyExistsError(absl::StrCat("container name \"", name,
                                                     "\" is already reserved for container ",
                                                     taken->second->id));
      }
      // kubelet's retry of a call that timed out on its side: the same container.
      if (taken->second->done) return taken->second->id;
      reservation_done_.Wait(&mutex_);
    }
    reservation = std::make_shared<Reservation>(
        Reservation{.id = NewObjectId(), .config = fingerprint});
    names_[name] = reservation;
  }

  Container container{.id = reservation->id,
                      .sandbox_id = sandbox_id,
                      .name = name,
                      .config = config,
                      .created_at_ns = absl::ToUnixNanos(absl::Now()),
                      .dir = absl::StrCat(options_.state_dir, "/containers/", reservation->id),
                      .runtime_handler = sandbox.runtime_handler};
  absl::Status created = CreateSteps(container, sandbox, sandbox.config);
  auto entry = std::make_shared<Entry>();
  if (created.ok()) {
    absl::MutexLock entry_lock(&entry->mutex);
    entry->container = container;
  }
  {
    absl::MutexLock lock(&mutex_);
    if (created.ok()) {
      reservation->done = true;
      containers_[container.id] = std::move(entry);
    } else {
      names_.erase(name);
    }
    reservation_done_.SignalAll();
  }
  if (!created.ok()) return created;
  spdlog::info("container {} ({}) created in sandbox {}", container.id, name, sandbox_id);
  Emit(runtime::v1::CONTAINER_CREATED_EVENT, container.id, sandbox_id);
  return container.id;
}

// Image volumes (KEP-4639): each Mount.image is a snapshot of that image
// (kubelet pulls it first) mounted in the container's directory, which the
// spec binds read-only. The snapshot stacks on the image's layers, so the
// image counts as in use, as for a rootfs, until the container is removed.
absl::StatusOr<std::map<int, std::string>> ContainerService::MountImageVolumes(
    Container& container, Rollback& rollback, const RootfsIdmap* idmap) {
  std::map<int, std::string> dirs;
  for (int index = 0; index < container.config.mounts_size(); ++index) {
    const runtime::v1::Mount& mount = container.config.mounts(index);
    if (mount.image().image().empty()) continue;
    absl::StatusOr<ResolvedImage> image = images_.Resolve(mount.image().image());
    if (!image.ok())
      return absl::Status(image.status().code(),
                          absl::StrCat("image volume ", mount.container_path(), ": ",
                                       image.status().message()));
    std::string key = container.image_volume_key(index);
    std::string dir = container.image_volume_dir(index);
    ASSIGN_OR_RETURN(std::vector<snapshotter::Mount> mounts, images_.Prepare(key, image->top_layer));
    rollback.Push("remove the snapshot " + key, [this, key] { return images_.RemoveSnapshot(key); });
    RETURN_IF_ERROR(MakeDirectories(dir, 0755));
    RETURN_IF_ERROR(MountSnapshot(mounts, dir, idmap));
    rollback.Push("unmount " + dir, [dir] { return UnmountSnapshot(dir); });
    dirs[index] = dir;
  }
  return dirs;
}

absl::Status ContainerService::CreateSteps(Container& container, const Sandbox& sandbox,
                                           const runtime::v1::PodSandboxConfig& sandbox_config) {
  const runtime::v1::ContainerConfig& config = container.config;
  const runtime::v1::LinuxContainerSecurityContext& security = config.linux().security_context();
  ASSIGN_OR_RETURN(ResolvedImage image, images_.Resolve(config.image().image()));
  ASSIGN_OR_RETURN(ImageRunConfig run, ParseImageRunConfig(image.config_json));
  container.image_id = image.id;
  container.image_ref = image.digest_ref;
  container.stop_signal = run.stop_signal;
  container.resources = config.linux().resources();
  container.cgroups_path = PodCgroupsPath(sandbox_config.linux().cgroup_parent(), container.id,
                                          options_.systemd_cgroup);
  if (!config.log_path().empty()) {
    container.log_path = sandbox_config.log_directory().empty()
                             ? config.log_path()
                             : absl::StrCat(sandbox_config.log_directory(), "/", config.log_path());
  }
  pid_t target_pid = 0;
  if (security.namespace_options().pid() == runtime::v1::TARGET) {
    absl::StatusOr<std::shared_ptr<Entry>> target = Lookup(security.namespace_options().target_id());
    if (!target.ok())
      return absl::NotFoundError("pid namespace target " +
                                 security.namespace_options().target_id() + " not found");
    absl::MutexLock lock(&(*target)->mutex);
    if (Refresh((*target)->container) ||
        (*target)->container.state != runtime::v1::CONTAINER_RUNNING)
      return absl::FailedPreconditionError("pid namespace target " +
                                           security.namespace_options().target_id() +
                                           " is not running");
    target_pid = (*target)->container.pid;
  }

  Rollback rollback;
  // Recorded once, at the end: what a berthd that dies part way leaves (the
  // directory, its rootfs mount, the snapshot "container-<id>") is named
  // after the id, and startup removes what no record claims
  // (container_recover.cc).
  ASSIGN_OR_RETURN(std::optional<PodUserNamespace> userns,
                   PodUserNamespaceOf(sandbox_config.linux().security_context().namespace_options()));
  if (userns) {
    // The init, as the pod's root, reaches its rootfs by path: it may
    // cross (not list) the directories above it.
    std::string parent = container.dir.substr(0, container.dir.rfind('/'));
    RETURN_IF_ERROR(MakeDirectories(parent, 0700));
    if (::chmod(parent.c_str(), 0711) != 0) return ErrnoStatus("chmod " + parent);
  }
  RETURN_IF_ERROR(MakeDirectories(container.dir, userns ? 0711 : 0700));
  rollback.Push("remove " + container.dir, [&] { return RemoveTree(container.dir); });
  container.snapshot_key = "container-" + container.id;

  ASSIGN_OR_RETURN(std::vector<snapshotter::Mount> mounts,
                   images_.Prepare(container.snapshot_key, image.top_layer));
  rollback.Push("remove the snapshot", [&] { return images_.RemoveSnapshot(container.snapshot_key); });
  RETURN_IF_ERROR(MakeDirectories(container.rootfs(), 0755));
  // A pod with a user namespace: the rootfs and image volumes are seen
  // through it (the pause holds it).
  UniqueFd userns_fd;
  std::optional<RootfsIdmap> idmap;
  if (userns) {
    std::string path = absl::StrCat("/proc/", sandbox.pid, "/ns/user");
    userns_fd.Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!userns_fd) return ErrnoStatus("open the pod's user namespace " + path);
    idmap = RootfsIdmap{.userns_fd = userns_fd.get(),
                        .root_uid = userns->uids.host_id,
                        .root_gid = userns->gids.host_id};
  }
  const RootfsIdmap* rootfs_idmap = idmap ? &*idmap : nullptr;
  container.rootfs_mounted = true;
  RETURN_IF_ERROR(MountSnapshot(mounts, container.rootfs(), rootfs_idmap));
  rollback.Push("unmount the rootfs", [&] { return UnmountSnapshot(container.rootfs()); });

  RETURN_IF_ERROR(MakeImageVolumes(container.rootfs(), run.volumes, config, rootfs_idmap));
  ASSIGN_OR_RETURN(auto image_volumes, MountImageVolumes(container, rollback, rootfs_idmap));
  ASSIGN_OR_RETURN(UserDatabase users, ReadUserDatabase(container.rootfs()));
  ASSIGN_OR_RETURN(ProcessUser user, ResolveProcessUser(security, run.user, users));
  container.uid = user.uid;
  container.gid = user.gid;
  container.supplemental_groups = user.additional_gids;
  ASSIGN_OR_RETURN(std::vector<std::string> capabilities, ContainerCapabilities(security));
  std::optional<nlohmann::json> seccomp;
  if (!security.privileged()) {
    if (security.has_seccomp()) {
      ASSIGN_OR_RETURN(seccomp, SeccompForProfile(security.seccomp(), capabilities));
    } else {
      // The field kubelets before 1.22 set; still honoured, as containerd does.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      const std::string& legacy_path = security.seccomp_profile_path();
#pragma GCC diagnostic pop
      ASSIGN_OR_RETURN(seccomp, SeccompForProfilePath(legacy_path, capabilities));
    }
  }
  ASSIGN_OR_RETURN(
      nlohmann::json spec,
      ContainerSpec(config, {.rootfs = container.rootfs(),
                             .cgroups_path = container.cgroups_path,
                             .sandbox = &sandbox_config,
                             .sandbox_dir = sandbox.dir,
                             .sandbox_shm = sandbox.shm_mounted,
                             .pause_pid = sandbox.pid,
                             .target_pid = target_pid,
                             .image = run,
                             .user = user,
                             .capabilities = capabilities,
                             .seccomp = seccomp,
                             .lowest_oom_score_adj = LowestOomScoreAdj(),
                             .cgroup_v2 = CgroupV2(options_.cgroup_root),
                             .swap_accounting = SwapAccounting(options_.cgroup_root),
                             .image_volumes = std::move(image_volumes),
                             .container_id = container.id,
                             .sandbox_id = sandbox.id,
                             .image_name = config.image().image()}));
  if (absl::StatusOr<oci::Process> process = oci::ParseProcessJson(spec["process"].dump());
      process.ok()) {
    std::string unenforced = UnenforcedLabels(*process, DetectLsm());
    if (!unenforced.empty()) spdlog::warn("container {}: {}", container.id, unenforced);
  }
  RETURN_IF_ERROR(MakeDirectories(container.bundle(), 0700));
  RETURN_IF_ERROR(WriteFileAtomically(container.bundle() + "/config.json", spec.dump(), 0600));
  RETURN_IF_ERROR(PrepareLogDirectory(sandbox_config.log_directory(), config.log_path()));
  container.complete = true;
  RETURN_IF_ERROR(
      store_.Update([&](MetadataTables& t) { return t.CreateContainer(ToRecord(container)); }));
  rollback.Commit();
  return absl::OkStatus();
}

}  // namespace berth::cri
