#pragma once

// The pod sandbox RPCs (RunPodSandbox, StopPodSandbox, RemovePodSandbox,
// PodSandboxStatus, ListPodSandbox) over the network manager, the pause
// process's monitor and the metadata store. One file per RPC group:
// sandbox_run.cc, sandbox_stop.cc (stop and remove), sandbox_query.cc
// (status and list), sandbox_recover.cc (what berthd finds at startup).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cni/network_manager.h"
#include "cri/sandbox/pod_members.h"
#include "cri/sandbox/runtime_handlers.h"
#include "cri/sandbox/sandbox.h"
#include "cri/sandbox/sandbox_images.h"
#include "cri/store/metadata_store.h"
#include "runtime/container.h"
#include "runtime/monitor/client/monitor_client.h"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

// Runs `<binary> --root <root> args...`; fails with the exit status.
absl::Status RunExternalRuntime(const ExternalRuntime& runtime, std::vector<std::string> args);

struct SandboxServiceOptions {
  std::string state_dir;  // sandboxes/, pause/ and runtime/ go below it
  std::string netns_dir = "/var/run/netns";
  std::string pause_binary;  // berth-pause, copied into the pause rootfs
  bool systemd_cgroup = false;
  // A pause image to pull and run instead of berth-pause; empty: berth-pause.
  std::string sandbox_image;
  SandboxImages* images = nullptr;  // needed with sandbox_image
  // Handlers besides the default "" (the in-tree executor), by name.
  std::map<std::string, ExternalRuntime> runtime_handlers;
  // How long a killed pause process may take to be reported gone.
  absl::Duration exit_timeout = absl::Seconds(10);
};

class SandboxService {
 public:
  SandboxService(SandboxServiceOptions options, MetadataStore& store, cni::NetworkManager& network,
                 MonitorClient& monitors);

  // Prepares the pause rootfs and reloads the sandboxes of the store,
  // finishing what a crash left: half-made sandboxes are undone, owed CNI
  // DELs are retried, sandboxes whose pause died are NOTREADY.
  absl::Status Start();
  // Set once before serving: whom Stop and Remove ask to end a pod's containers.
  void SetPodMembers(PodMembers* members) { members_ = members; }

  // A copy of the sandbox, for creating and running containers in it, with
  // its state as observed now (NOTREADY once the pause process is gone).
  absl::StatusOr<Sandbox> Get(const std::string& id);
  // The full id of the sandbox `prefix` names; NotFound for none, or for
  // more than one.
  absl::StatusOr<std::string> ResolveId(const std::string& prefix);

  absl::StatusOr<std::string> Run(const runtime::v1::RunPodSandboxRequest& request);
  // Both succeed for ids that do not exist (the CRI wants them idempotent).
  absl::Status Stop(const std::string& id);
  absl::Status Remove(const std::string& id);
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> Status(const std::string& id, bool verbose);
  std::vector<runtime::v1::PodSandbox> List(const runtime::v1::PodSandboxFilter& filter);

  // The handlers RunPodSandbox accepts: "" (the default) and the configured ones.
  bool KnownHandler(const std::string& handler) const { return handlers_.Known(handler); }
  std::vector<std::string> HandlerNames() const;
  // A reload's handlers (RuntimeHandlers::Update); returns the names kept.
  std::vector<std::string> UpdateHandlers(const std::map<std::string, ExternalRuntime>& handlers) {
    return handlers_.Update(handlers);
  }

 private:
  struct Entry {
    absl::Mutex mutex;
    Sandbox sandbox ABSL_GUARDED_BY(mutex);
  };
  // A name taken by a RunPodSandbox, finished or in flight: kubelet retries
  // after its own timeout, and the retry must get the same sandbox back.
  struct Reservation {
    std::string id;
    std::string config;  // the serialized PodSandboxConfig
    bool done = false;
  };

  // Directories under sandboxes/ that no record names: what a crash left.
  void RemoveUnknownSandboxDirs();
  absl::StatusOr<std::string> RunSteps(const std::string& id, Sandbox& sandbox);
  absl::Status StopLocked(Sandbox& sandbox);
  absl::Status KillPause(const Sandbox& sandbox);
  absl::Status DetachNetwork(Sandbox& sandbox);
  absl::Status Persist(const Sandbox& sandbox);
  bool PauseRunning(const Sandbox& sandbox);
  cni::AttachRequest NetworkRequest(const Sandbox& sandbox) const;
  std::shared_ptr<Entry> Find(const std::string& id);
  void Forget(const std::string& id, const std::string& name);
  RuntimeOptions ExecutorOptions() const {
    return {.root = options_.state_dir + "/runtime", .systemd_cgroup = options_.systemd_cgroup};
  }
  // The sandbox's pause container, killed or deleted through the runtime
  // that made it (sandbox_runtime.cc).
  absl::Status KillContainerOf(const Sandbox& sandbox);
  absl::Status DeleteContainerOf(const Sandbox& sandbox);
  // Unmounts and removes a sandbox_image rootfs, if the sandbox has one.
  absl::Status ReleaseRootfs(Sandbox& sandbox);
  std::optional<ExternalRuntime> ExternalRuntimeOf(const Sandbox& sandbox) const;
  std::string PauseRootfs() const { return options_.state_dir + "/pause/rootfs"; }

  SandboxServiceOptions options_;
  RuntimeHandlers handlers_{options_.runtime_handlers};
  MetadataStore& store_;
  cni::NetworkManager& network_;
  MonitorClient& monitors_;
  PodMembers* members_ = nullptr;

  absl::Mutex mutex_;
  absl::CondVar reservation_done_;
  std::map<std::string, std::shared_ptr<Entry>> sandboxes_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, std::shared_ptr<Reservation>> names_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace berth::cri
