#pragma once

// The container RPCs over the sandboxes, the image store, the containers'
// monitors and the metadata store. One file per RPC group:
// container_create.cc, container_start.cc (start, and the exits),
// container_stop.cc (stop and remove), container_query.cc (status and
// list), container_update.cc (resources, log reopen, exec sessions),
// container_stats.cc, container_recover.cc (what berthd finds at startup).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cri/container/cgroup_stats.h"
#include "cri/container/container.h"
#include "cri/container/container_events.h"
#include "cri/container/container_images.h"
#include "cri/container/exit_watcher.h"
#include "cri/sandbox/pod_members.h"
#include "cri/sandbox/sandbox_service.h"
#include "cri/store/metadata_store.h"
#include "runtime/container.h"
#include "runtime/monitor/client/monitor_client.h"
#include "runtime/v1/api.pb.h"

namespace berth::cri {

struct ContainerServiceOptions {
  std::string state_dir;  // containers/ and runtime/ go below it
  bool systemd_cgroup = false;
  // Handlers besides the default "" (the in-tree executor), by name.
  std::map<std::string, ExternalRuntime> runtime_handlers;
  // How long a SIGKILLed container may take to be reported gone.
  absl::Duration kill_timeout = absl::Seconds(10);
  std::string cgroup_root = "/sys/fs/cgroup";
};

class Rollback;
struct RootfsIdmap;

class ContainerService final : public PodMembers {
 public:
  ContainerService(ContainerServiceOptions options, MetadataStore& store, SandboxService& sandboxes,
                   ContainerImages& images, MonitorClient& monitors, ContainerEvents& events);
  ~ContainerService() override;

  // Reloads the containers of the store: reconnects to running ones,
  // records the exits of those that ended while berthd was down, undoes
  // what a crash left half-made.
  absl::Status Start();

  absl::StatusOr<std::string> Create(const runtime::v1::CreateContainerRequest& request);
  absl::Status StartContainer(const std::string& id);
  // Both succeed for ids that do not exist (the CRI wants them idempotent).
  absl::Status Stop(const std::string& id, int64_t timeout_seconds);
  absl::Status Remove(const std::string& id);
  absl::StatusOr<runtime::v1::ContainerStatusResponse> Status(const std::string& id,
                                                              bool verbose);
  std::vector<runtime::v1::Container> List(const runtime::v1::ContainerFilter& filter);
  absl::Status UpdateResources(const std::string& id,
                               const runtime::v1::LinuxContainerResources& resources);
  absl::Status ReopenLog(const std::string& id);
  // A reload's handlers (RuntimeHandlers::Update).
  void UpdateHandlers(const std::map<std::string, ExternalRuntime>& handlers) {
    handlers_.Update(handlers);
  }
  absl::StatusOr<runtime::v1::ExecSyncResponse> ExecSync(
      const runtime::v1::ExecSyncRequest& request);
  // The full id of the running container `id` names; NotFound, or
  // FailedPrecondition when it does not run (Exec, Attach validation).
  absl::StatusOr<std::string> RunningContainerId(const std::string& id);
  // The sessions the streaming server pumps: a process started in the
  // container, or the container's own stdio.
  absl::StatusOr<std::unique_ptr<StreamSession>> OpenExec(const std::string& id,
                                                          const std::vector<std::string>& cmd,
                                                          bool tty, bool stdin);
  absl::StatusOr<std::unique_ptr<StreamSession>> OpenAttach(const std::string& id);

  absl::StatusOr<runtime::v1::ContainerStats> Stats(const std::string& id);
  std::vector<runtime::v1::ContainerStats> ListStats(
      const runtime::v1::ContainerStatsFilter& filter);
  absl::StatusOr<runtime::v1::PodSandboxStats> PodStats(const std::string& sandbox_id);
  std::vector<runtime::v1::PodSandboxStats> ListPodStats(
      const runtime::v1::PodSandboxStatsFilter& filter);

  // ListMetricDescriptors and ListPodSandboxMetrics (container_metrics.cc).
  static std::vector<runtime::v1::MetricDescriptor> MetricDescriptors();
  std::vector<runtime::v1::PodSandboxMetrics> PodMetrics();

  // The statuses of a pod's containers, for PodSandboxStatus and events.
  std::vector<runtime::v1::ContainerStatus> PodContainerStatuses(const std::string& sandbox_id);

  // PodMembers.
  absl::Status StopPodContainers(const std::string& sandbox_id) override;
  absl::Status RemovePodContainers(const std::string& sandbox_id) override;

 private:
  struct Entry {
    absl::Mutex mutex;
    Container container ABSL_GUARDED_BY(mutex);
  };
  struct Reservation {
    std::string id;
    std::string config;  // the serialized CreateContainerRequest
    bool done = false;
  };

  absl::Status CreateSteps(Container& container, const Sandbox& sandbox,
                           const runtime::v1::PodSandboxConfig& sandbox_config);
  absl::StatusOr<ExecConfig> PrepareExec(const std::string& id,
                                         const std::vector<std::string>& cmd, bool tty,
                                         bool stdin, absl::Duration timeout);
  absl::StatusOr<std::map<int, std::string>> MountImageVolumes(Container& container,
                                                               Rollback& rollback,
                                                               const RootfsIdmap* idmap);
  absl::Status StartLocked(Container& container);
  // SIGKILL and wait: the rest of a stop, or all of a forced one.
  absl::Status StopLocked(Container& container);
  absl::Status RemoveLocked(Container& container);
  // Reads the exit file of a container berthd thinks runs; true if it ended.
  bool Refresh(Container& container);
  void OnExit(const std::string& id);
  absl::Status Persist(const Container& container);
  runtime::v1::ContainerStatus StatusOf(const Container& container);
  // With `retain`, subscribers that come soon after get it too (startup).
  void Emit(runtime::v1::ContainerEventType type, const std::string& id,
            const std::string& sandbox_id, bool retain = false);
  absl::StatusOr<runtime::v1::ContainerStats> StatsOf(const Container& container);
  absl::StatusOr<runtime::v1::PodSandboxStats> PodStatsOf(const Sandbox& sandbox);

  std::shared_ptr<Entry> Find(const std::string& id);
  // The full id `prefix` names (crictl passes prefixes); NotFound otherwise.
  absl::StatusOr<std::shared_ptr<Entry>> Lookup(const std::string& prefix);
  std::vector<std::shared_ptr<Entry>> EntriesOf(const std::string& sandbox_id);
  void Forget(const std::string& id, const std::string& name);
  std::optional<ExternalRuntime> ExternalRuntimeOf(const Container& container) const;
  RuntimeOptions ExecutorOptions() const {
    return {.root = options_.state_dir + "/runtime", .systemd_cgroup = options_.systemd_cgroup};
  }
  absl::Status KillContainerOf(const Container& container, int signal);
  absl::Status DeleteContainerOf(const Container& container);
  absl::Status ReleaseRootfs(Container& container);

  ContainerServiceOptions options_;
  RuntimeHandlers handlers_{options_.runtime_handlers};
  MetadataStore& store_;
  SandboxService& sandboxes_;
  ContainerImages& images_;
  MonitorClient& monitors_;
  ContainerEvents& events_;

  absl::Mutex mutex_;
  absl::CondVar reservation_done_;
  std::map<std::string, std::shared_ptr<Entry>> containers_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, std::shared_ptr<Reservation>> names_ ABSL_GUARDED_BY(mutex_);

  CpuSampler cpu_samples_;
  std::unique_ptr<ExitWatcher> watcher_;
};

}  // namespace berth::cri
