// RunPodSandbox: reserve the name -> pin a network namespace -> CNI ADD ->
// pod files and /dev/shm -> the pause process under a monitor -> READY.
// Every step pushes its undo; a failure anywhere leaves nothing behind.

#include <sys/mount.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <future>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cri/sandbox/pause_spec.h"
#include "cri/sandbox/pod_files.h"
#include "cri/sandbox/pod_user_namespace.h"
#include "cri/sandbox/rollback.h"
#include "cri/sandbox/sandbox_service.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {



}  // namespace

SandboxService::SandboxService(SandboxServiceOptions options, MetadataStore& store,
                               cni::NetworkManager& network, MonitorClient& monitors)
    : options_(std::move(options)), store_(store), network_(network), monitors_(monitors) {}

absl::StatusOr<std::string> SandboxService::Run(const runtime::v1::RunPodSandboxRequest& request) {
  const runtime::v1::PodSandboxConfig& config = request.config();
  if (!KnownHandler(request.runtime_handler())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown runtime handler \"", request.runtime_handler(), "\""));
  }
  absl::StatusOr<std::optional<PodUserNamespace>> userns =
      PodUserNamespaceOf(config.linux().security_context().namespace_options());
  if (!userns.ok()) return userns.status();
  if (userns->has_value() && !request.runtime_handler().empty()) {
    // Their containers' volumes need idmapped mounts (mounts[].uidMappings),
    // which berthd does not ask other runtimes whether they apply.
    return absl::InvalidArgumentError(absl::StrCat("runtime handler \"", request.runtime_handler(),
                                                   "\" does not support user namespaces"));
  }
  if (userns->has_value()) RETURN_IF_ERROR(CheckCrossableByOthers(options_.state_dir));
  if (config.metadata().name().empty() || config.metadata().namespace_().empty() ||
      config.metadata().uid().empty()) {
    return absl::InvalidArgumentError("sandbox metadata needs name, namespace and uid");
  }
  std::string name = SandboxName(config.metadata());
  std::string config_bytes = ConfigFingerprint(config);

  std::shared_ptr<Reservation> reservation;
  {
    absl::MutexLock lock(&mutex_);
    for (;;) {
      auto taken = names_.find(name);
      if (taken == names_.end()) break;
      if (taken->second->config != config_bytes) {
        return absl::AlreadyExistsError(absl::StrCat(
            "pod sandbox name \"", name, "\" is already reserved for sandbox ", taken->second->id));
      }
      // kubelet's retry of a call that timed out on its side: the same pod.
      if (taken->second->done) return taken->second->id;
      reservation_done_.Wait(&mutex_);
    }
    reservation =
        std::make_shared<Reservation>(Reservation{.id = NewObjectId(), .config = config_bytes});
    names_[name] = reservation;
  }

  Sandbox sandbox{.id = reservation->id,
                  .name = name,
                  .config = config,
                  .created_at_ns = absl::ToUnixNanos(absl::Now()),
                  .runtime_handler = request.runtime_handler(),
                  .dir = absl::StrCat(options_.state_dir, "/sandboxes/", reservation->id)};
  absl::StatusOr<std::string> id = RunSteps(reservation->id, sandbox);
  // Filled before it is shared: an entry's lock is never taken under mutex_.
  auto entry = std::make_shared<Entry>();
  if (id.ok()) {
    absl::MutexLock entry_lock(&entry->mutex);
    entry->sandbox = std::move(sandbox);
  }

  absl::MutexLock lock(&mutex_);
  if (id.ok()) {
    reservation->done = true;
    sandboxes_[reservation->id] = std::move(entry);
  } else {
    names_.erase(name);
  }
  reservation_done_.SignalAll();
  return id;
}

absl::StatusOr<std::string> SandboxService::RunSteps(const std::string& id, Sandbox& sandbox) {
  const runtime::v1::PodSandboxConfig& config = sandbox.config;
  const runtime::v1::NamespaceOption& ns = config.linux().security_context().namespace_options();
  bool host_network = ns.network() == runtime::v1::NODE;
  // Checked (and the pause image pulled) before anything is made.
  RETURN_IF_ERROR(PodSysctls(config).status());
  std::optional<PauseImage> image;
  if (!options_.sandbox_image.empty()) {
    if (options_.images == nullptr)
      return absl::InternalError("no image service for sandbox_image");
    ASSIGN_OR_RETURN(image, options_.images->Ensure(options_.sandbox_image));
  }
  sandbox.cgroups_path =
      PodCgroupsPath(config.linux().cgroup_parent(), id, options_.systemd_cgroup);

  Rollback rollback;
  RETURN_IF_ERROR(MakeDirectories(sandbox.dir, 0700));
  rollback.Push("remove " + sandbox.dir, [&] { return RemoveTree(sandbox.dir); });
  // Recorded first, marked unfinished: a berthd that dies part way finds it
  // at startup and undoes it.
  RETURN_IF_ERROR(
      store_.Update([&](MetadataTables& t) { return t.CreateSandbox(ToRecord(sandbox)); }));
  rollback.Push("forget the record", [&] {
    return store_.Update([&](MetadataTables& t) { return t.DeleteSandbox(id); });
  });

  // CNI ADD (tens of milliseconds of plugin processes) runs while the pause
  // process is made. Declared after `rollback`, so on any early return it is
  // waited for before the rollback's DEL runs.
  std::future<absl::StatusOr<cni::AttachResult>> attaching;
  auto attach_network = [&](const std::function<absl::StatusOr<std::string>()>& pin) {
    // Recorded before it exists: a crash in between must not leak the pin.
    sandbox.netns_path = absl::StrCat(options_.netns_dir, "/berth-", id);
    RETURN_IF_ERROR(Persist(sandbox));
    rollback.Push("remove netns", [&] { return cni::RemovePinnedNetns(sandbox.netns_path); });
    ASSIGN_OR_RETURN(std::string pinned, pin());
    if (pinned != sandbox.netns_path)
      return absl::InternalError("network namespace pinned at " + pinned + ", not " +
                                 sandbox.netns_path);
    // DEL is owed from before ADD runs: a crash inside ADD must not leak an IP.
    sandbox.network_attached = true;
    RETURN_IF_ERROR(Persist(sandbox));
    rollback.Push("CNI DEL", [&] { return DetachNetwork(sandbox); });
    attaching = std::async(std::launch::async, [this, request = NetworkRequest(sandbox)] {
      return network_.Attach(request);
    });
    return absl::OkStatus();
  };
  // With a user namespace, the pause makes the network namespace too, so
  // that the pod's user namespace owns it (sysfs and net.* sysctls need
  // that); it is pinned, and CNI runs, once the pause exists.
  ASSIGN_OR_RETURN(std::optional<PodUserNamespace> userns, PodUserNamespaceOf(ns));
  if (!host_network && !userns) {
    RETURN_IF_ERROR(attach_network(
        [&] { return cni::CreatePinnedNetns(options_.netns_dir, "berth-" + id); }));
  }

  std::string hostname = config.hostname();
  // A new UTS namespace starts with the host's name: the files say so too.
  if (host_network || hostname.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    hostname = name;
  }
  ASSIGN_OR_RETURN(std::string resolv, ResolvConf(config.dns_config()));
  RETURN_IF_ERROR(WriteFileAtomically(sandbox.dir + "/hostname", HostnameFile(hostname), 0644));
  RETURN_IF_ERROR(WriteFileAtomically(sandbox.dir + "/resolv.conf", resolv, 0644));
  if (ns.ipc() != runtime::v1::NODE) {
    RETURN_IF_ERROR(MakeDirectories(sandbox.shm_dir(), 0755));
    if (::mount("shm", sandbox.shm_dir().c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=1777,size=65536k") != 0) {
      return ErrnoStatus("mount the pod's shm on " + sandbox.shm_dir());
    }
    sandbox.shm_mounted = true;
    RETURN_IF_ERROR(Persist(sandbox));
    rollback.Push("unmount shm", [&] {
      if (::umount2(sandbox.shm_dir().c_str(), MNT_DETACH) != 0 && errno != EINVAL &&
          errno != ENOENT)
        return ErrnoStatus("unmount " + sandbox.shm_dir());
      return absl::OkStatus();
    });
  }

  std::string rootfs = PauseRootfs();
  if (image.has_value()) {
    std::string key = "sandbox-" + id;
    ASSIGN_OR_RETURN(std::vector<snapshotter::Mount> mounts,
                     options_.images->View(key, image->top_layer));
    sandbox.rootfs_view = key;
    RETURN_IF_ERROR(Persist(sandbox));
    rollback.Push("release the pause image rootfs", [&] { return ReleaseRootfs(sandbox); });
    if (mounts.size() != 1 || !mounts[0].working_dir.empty())
      return absl::FailedPreconditionError("sandbox image " + options_.sandbox_image +
                                           " has too many layers for a pause image");
    RETURN_IF_ERROR(MakeDirectories(sandbox.rootfs(), 0755));
    std::string data = absl::StrJoin(mounts[0].options, ",");
    if (::mount(mounts[0].source.c_str(), sandbox.rootfs().c_str(), mounts[0].type.c_str(),
                mounts[0].type == "bind" ? MS_BIND | MS_RDONLY : MS_RDONLY,
                mounts[0].type == "bind" ? nullptr : data.c_str()) != 0) {
      return ErrnoStatus("mount the pause image on " + sandbox.rootfs());
    }
    rootfs = sandbox.rootfs();
  }
  ASSIGN_OR_RETURN(nlohmann::json spec, PauseSpec(config, {.rootfs = rootfs,
                                                           .netns_path = sandbox.netns_path,
                                                           .cgroups_path = sandbox.cgroups_path,
                                                           .oom_score_adj = PauseOomScoreAdj(),
                                                           .image = image ? &*image : nullptr}));
  RETURN_IF_ERROR(MakeDirectories(sandbox.bundle(), 0700));
  RETURN_IF_ERROR(WriteFileAtomically(sandbox.bundle() + "/config.json", spec.dump(), 0600));
  RETURN_IF_ERROR(MakeDirectories(sandbox.monitor_dir(), 0700));
  MonitorConfig monitor{.id = id,
                        .bundle = sandbox.bundle(),
                        .runtime_root = ExecutorOptions().root,
                        .systemd_cgroup = options_.systemd_cgroup,
                        .state_dir = sandbox.monitor_dir(),
                        .log_path = sandbox.dir + "/pause.log"};
  if (std::optional<ExternalRuntime> runtime = ExternalRuntimeOf(sandbox)) {
    monitor.runtime_binary = runtime->binary;
    monitor.runtime_root = runtime->root;
  }
  ASSIGN_OR_RETURN(sandbox.pid, monitors_.Create(monitor));
  RETURN_IF_ERROR(Persist(sandbox));
  rollback.Push("remove the pause container", [&] {
    (void)KillPause(sandbox);
    return DeleteContainerOf(sandbox);
  });
  if (!host_network && userns) {
    RETURN_IF_ERROR(attach_network(
        [&] { return cni::PinNetnsOfProcess(options_.netns_dir, "berth-" + id, sandbox.pid); }));
  }
  if (attaching.valid()) {
    ASSIGN_OR_RETURN(cni::AttachResult attached, attaching.get());
    sandbox.ips = attached.ips;
    sandbox.cni_result = attached.result_json;
  }
  RETURN_IF_ERROR(
      WriteFileAtomically(sandbox.dir + "/hosts", HostsFile(hostname, sandbox.ips), 0644));
  RETURN_IF_ERROR(monitors_.Start(sandbox.monitor_dir()));
  sandbox.state = runtime::v1::SANDBOX_READY;
  sandbox.complete = true;
  RETURN_IF_ERROR(Persist(sandbox));
  rollback.Commit();
  spdlog::info("sandbox {} ({}) ready, pid {}{}{}", id, sandbox.name, sandbox.pid,
               sandbox.ips.empty() ? "" : ", ip ", sandbox.ips.empty() ? "" : sandbox.ips[0]);
  return id;
}

}  // namespace berth::cri
