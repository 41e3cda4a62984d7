// StartContainer, and what berthd learns when a container ends: the
// monitor's exit file becomes the container's EXITED state and event.

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cri/container/container_service.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/logging.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

// What containerd reports for a container whose process never ran.
constexpr int kStartErrorExitCode = 128;

}  // namespace

ContainerService::ContainerService(ContainerServiceOptions options, MetadataStore& store,
                                   SandboxService& sandboxes, ContainerImages& images,
                                   MonitorClient& monitors, ContainerEvents& events)
    : options_(std::move(options)),
      store_(store),
      sandboxes_(sandboxes),
      images_(images),
      monitors_(monitors),
      events_(events) {}

ContainerService::~ContainerService() { watcher_.reset(); }

absl::Status ContainerService::Persist(const Container& container) {
  return store_.Update(
      [&](MetadataTables& t) { return t.UpdateContainer(ToRecord(container)); });
}

absl::Status ContainerService::StartContainer(const std::string& prefix) {
  ASSIGN_OR_RETURN(std::shared_ptr<Entry> entry, Lookup(prefix));
  std::string id, sandbox_id;
  {
    absl::MutexLock lock(&entry->mutex);
    Container& container = entry->container;
    id = container.id;
    sandbox_id = container.sandbox_id;
    RETURN_IF_ERROR(StartLocked(container));
  }
  Emit(runtime::v1::CONTAINER_STARTED_EVENT, id, sandbox_id);
  return absl::OkStatus();
}

absl::Status ContainerService::StartLocked(Container& container) {
  if (container.state != runtime::v1::CONTAINER_CREATED) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", container.id, " is ",
                     runtime::v1::ContainerState_Name(container.state), ", not CREATED"));
  }
  ASSIGN_OR_RETURN(Sandbox sandbox, sandboxes_.Get(container.sandbox_id));
  if (sandbox.state != runtime::v1::SANDBOX_READY)
    return absl::FailedPreconditionError(
        absl::StrCat("pod sandbox ", container.sandbox_id, " of container ", container.id,
                     " is not ready"));
  const runtime::v1::ContainerConfig& config = container.config;
  MonitorConfig monitor{.id = container.id,
                        .bundle = container.bundle(),
                        .runtime_root = ExecutorOptions().root,
                        .systemd_cgroup = options_.systemd_cgroup,
                        .state_dir = container.monitor_dir(),
                        .log_directory = container.log_path.empty()
                                             ? ""
                                             : sandbox.config.log_directory(),
                        .log_path = config.log_path(),
                        .stdin = config.stdin(),
                        .stdin_once = config.stdin_once(),
                        .tty = config.tty()};
  if (monitor.log_directory.empty()) monitor.log_path = container.log_path;
  // No log asked for: the output is discarded, as containerd does.
  if (monitor.log_path.empty()) monitor.log_path = "/dev/null";
  if (std::optional<ExternalRuntime> runtime = ExternalRuntimeOf(container)) {
    monitor.runtime_binary = runtime->binary;
    monitor.runtime_root = runtime->root;
  }
  // The monitor's directory is the mark of a start begun: recovery finds it
  // (the state dir outlives a berthd crash) without a write to the store.
  RETURN_IF_ERROR(MakeDirectories(container.monitor_dir(), 0700));
  container.monitor_started = true;

  absl::StatusOr<pid_t> pid = monitors_.Create(monitor);
  absl::Status started = pid.status();
  if (started.ok()) started = monitors_.Start(container.monitor_dir());
  if (!started.ok()) {
    // As containerd: the container ends here, EXITED with the reason, and
    // kubelet's restart policy decides what comes next.
    (void)KillContainerOf(container, SIGKILL);
    (void)DeleteContainerOf(container);
    container.state = runtime::v1::CONTAINER_EXITED;
    container.finished_at_ns = absl::ToUnixNanos(absl::Now());
    container.exit_code = kStartErrorExitCode;
    container.reason = "StartError";
    container.message = std::string(started.message());
    RETURN_IF_ERROR(Persist(container));
    return absl::Status(started.code(), absl::StrCat("start container ", container.id, ": ",
                                                     started.message()));
  }
  container.pid = *pid;
  container.state = runtime::v1::CONTAINER_RUNNING;
  container.started_at_ns = absl::ToUnixNanos(absl::Now());
  RETURN_IF_ERROR(Persist(container));
  MonitorConfig paths{.state_dir = container.monitor_dir()};
  RETURN_IF_ERROR(watcher_->Watch(container.id, paths.control_socket()));
  spdlog::info("container {} started, pid {}", container.id, container.pid);
  return absl::OkStatus();
}

bool ContainerService::Refresh(Container& container) {
  if (container.state != runtime::v1::CONTAINER_RUNNING) return false;
  absl::StatusOr<ExitRecord> exit =
      monitors_.WaitForExit(container.monitor_dir(), absl::ZeroDuration());
  if (absl::IsDeadlineExceeded(exit.status())) return false;
  container.state = runtime::v1::CONTAINER_EXITED;
  if (exit.ok()) {
    container.exit_code = exit->exit_code;
    container.finished_at_ns = absl::ToUnixNanos(exit->finished_at);
    container.reason = exit->reason;
    if (container.reason.empty()) container.reason = exit->exit_code == 0 ? "Completed" : "Error";
  } else {
    // The monitor died without a word: the process's end is unknown.
    container.exit_code = 255;
    container.finished_at_ns = absl::ToUnixNanos(absl::Now());
    container.reason = "Unknown";
    container.message = std::string(exit.status().message());
  }
  // The runtime's state and cgroup go with the process, as containerd's task.
  (void)DeleteContainerOf(container);
  if (absl::Status persisted = Persist(container); !persisted.ok())
    spdlog::error("container {}: {}", container.id, persisted.message());
  spdlog::info("container {} exited: {} ({})", container.id, container.exit_code,
               container.reason);
  return true;
}

void ContainerService::OnExit(const std::string& id) {
  std::shared_ptr<Entry> entry = Find(id);
  if (entry == nullptr) return;
  std::string sandbox_id;
  bool exited = false;
  {
    absl::MutexLock lock(&entry->mutex);
    exited = Refresh(entry->container);
    sandbox_id = entry->container.sandbox_id;
  }
  if (exited) Emit(runtime::v1::CONTAINER_STOPPED_EVENT, id, sandbox_id);
}

void ContainerService::Emit(runtime::v1::ContainerEventType type, const std::string& id,
                            const std::string& sandbox_id, bool retain) {
  if (!retain && !events_.HasSubscribers()) return;
  runtime::v1::ContainerEventResponse event;
  event.set_container_id(id);
  event.set_container_event_type(type);
  event.set_created_at(absl::ToUnixNanos(absl::Now()));
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> pod = sandboxes_.Status(sandbox_id, false);
  if (pod.ok()) *event.mutable_pod_sandbox_status() = pod->status();
  for (runtime::v1::ContainerStatus& status : PodContainerStatuses(sandbox_id))
    *event.add_containers_statuses() = std::move(status);
  if (retain) {
    events_.PublishRetained(event);
  } else {
    events_.Publish(event);
  }
}

}  // namespace berth::cri
