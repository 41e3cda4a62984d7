#include "runtime/container.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroups/cgroup_manager.h"
#include "runtime/container_init.h"
#include "runtime/device_rules.h"
#include "runtime/hooks.h"
#include "runtime/idmapped_mounts.h"
#include "runtime/oci/namespaces.h"
#include "runtime/oci/spec_parse.h"
#include "runtime/procfs.h"
#include "runtime/seccomp_filter.h"
#include "runtime/signal_forwarding.h"

namespace berth {
namespace {

std::string Rfc3339Now() {
  return absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
}

// Waits until `pid` is gone (exited and reaped by whoever its parent is).
absl::Status WaitGone(pid_t pid, uint64_t start_time, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (ProcessStartTime(pid) == start_time && start_time != 0) {
    int status;
    ::waitpid(pid, &status, WNOHANG);  // reap it if it is ours
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError(absl::StrCat("pid ", pid, " did not exit"));
    absl::SleepFor(absl::Milliseconds(1));
  }
  return absl::OkStatus();
}

absl::Status WriteIdMap(pid_t pid, const char* file, const std::vector<oci::IdMapping>& mappings) {
  ASSIGN_OR_RETURN(ProcFs proc, ProcFs::Open());
  return proc.Write(absl::StrCat(pid, "/", file), IdMapText(mappings));
}

// The spec says a failing poststart or poststop hook MUST NOT stop the
// lifecycle: it is logged, and the operation goes on.
void RunHooksWarning(const std::vector<oci::Hook>& hooks, const std::string& kind,
                     const std::string& state_json) {
  absl::Status status = RunHooks(hooks, kind, state_json);
  if (!status.ok()) {
    std::fprintf(stderr, "berth-runtime: warning: %s\n", std::string(status.message()).c_str());
  }
}

// Undoes a half-made container when create fails.
class CreateRollback {
 public:
  explicit CreateRollback(std::string dir) : dir_(std::move(dir)) {}
  ~CreateRollback() {
    if (committed_) return;
    if (init_ > 0) {
      ::kill(init_, SIGKILL);
      (void)WaitGone(init_, ProcessStartTime(init_), absl::Seconds(5));
    }
    if (cgroup_ != nullptr) (void)cgroup_->Destroy();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void set_init(pid_t pid) { init_ = pid; }
  // The rollback owns the cgroup manager: it must outlive every step that can fail.
  CgroupManager* set_cgroup(std::unique_ptr<CgroupManager> cgroup) {
    cgroup_ = std::move(cgroup);
    return cgroup_.get();
  }
  void Commit() { committed_ = true; }

 private:
  std::string dir_;
  pid_t init_ = 0;
  std::unique_ptr<CgroupManager> cgroup_;
  bool committed_ = false;
};

absl::StatusOr<std::unique_ptr<CgroupManager>> CgroupFor(const ContainerState& state) {
  return NewContainerCgroupManager(state.cgroup_path, state.systemd_cgroup);
}

ContainerStatus StatusOf(const StateDir& dir, const ContainerState& state) {
  if (!InitAlive(state)) return ContainerStatus::kStopped;
  if (::access(dir.exec_fifo().c_str(), F_OK) == 0) return ContainerStatus::kCreated;
  absl::StatusOr<std::unique_ptr<CgroupManager>> cgroup = CgroupFor(state);
  if (cgroup.ok()) {
    absl::StatusOr<bool> frozen = (*cgroup)->IsFrozen();
    if (frozen.ok() && *frozen) return ContainerStatus::kPaused;
  }
  return ContainerStatus::kRunning;
}

// When the init fails while it is being placed in its cgroup, placing it
// fails too (it is gone: ESRCH, or systemd's "process does not exist"); the
// init's own reason, queued on the socket before it exited, is the one to report.
absl::Status InitErrorOr(SyncSocket& init, absl::Status placing) {
  pollfd ready = {.fd = init.fd(), .events = POLLIN, .revents = 0};
  if (::poll(&ready, 1, 100) == 1) {
    absl::StatusOr<SyncMessage> message = init.Receive();
    if (message.ok() && message->type == SyncType::kError)
      return absl::Status(static_cast<absl::StatusCode>(message->value), message->text);
  }
  return placing;
}

absl::Status CreateWithRollback(const RuntimeOptions& runtime, const std::string& id,
                                const CreateOptions& options, const oci::Spec& spec,
                                const StateDir& dir, CreateRollback& rollback) {
  // 0622: the init writes it after switching to the container's user.
  if (::mkfifo(dir.exec_fifo().c_str(), 0622) != 0) return ErrnoStatus("mkfifo " + dir.exec_fifo());
  if (::chmod(dir.exec_fifo().c_str(), 0622) != 0) return ErrnoStatus("chmod " + dir.exec_fifo());
  ASSIGN_OR_RETURN(std::string cgroup_path,
                   ContainerCgroupPath(spec.linux.cgroups_path, runtime.systemd_cgroup, id));
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> new_cgroup,
                   NewContainerCgroupManager(cgroup_path, runtime.systemd_cgroup));
  CgroupManager* cgroup = rollback.set_cgroup(std::move(new_cgroup));
  if (spec.linux.seccomp) RETURN_IF_ERROR(ValidateSeccomp(*spec.linux.seccomp));

  InitConfig config{.spec = &spec,
                    .bundle = options.bundle,
                    .exec_fifo = dir.exec_fifo(),
                    .preserve_fds = options.preserve_fds,
                    .console_socket = options.console_socket,
                    .cgroup_dirs = cgroup->Dirs(),
                    .cgroup_version = cgroup->version()};
  std::vector<UniqueFd> namespace_fds;
  for (const oci::Namespace& ns : spec.linux.namespaces) {
    const oci::NamespaceKind* kind = oci::FindNamespaceKind(ns.type);
    if (kind == nullptr)  // the parser refuses these; a caller-built spec might not
      return absl::InvalidArgumentError(absl::StrCat("unknown namespace \"", ns.type, "\""));
    int flag = kind->clone_flag;
    if (ns.path.empty()) {
      if (flag == CLONE_NEWUSER) {
        config.new_user_namespace = true;
      } else if (flag == CLONE_NEWCGROUP) {
        config.new_cgroup_namespace = true;
      } else {
        config.unshare_flags |= flag;
      }
      continue;
    }
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return ErrnoStatus(absl::StrCat("open ", ns.type, " namespace ", ns.path));
    if (flag == CLONE_NEWUSER) {
      config.join_user_namespace_fd = fd.get();
    } else {
      config.join_namespaces.emplace_back(fd.get(), flag);
    }
    namespace_fds.push_back(std::move(fd));
  }
  if (config.new_user_namespace &&
      (spec.linux.uid_mappings.empty() || spec.linux.gid_mappings.empty())) {
    return absl::InvalidArgumentError(
        "linux.uidMappings/gidMappings: a new user namespace needs both");
  }

  using IdmappedMounts = std::map<size_t, UniqueFd>;
  ASSIGN_OR_RETURN(IdmappedMounts idmapped, PrepareIdmappedMounts(spec, options.bundle));
  for (const auto& [index, fd] : idmapped) config.idmapped_mounts.emplace(index, fd.get());

  ASSIGN_OR_RETURN(auto sockets, SyncSocket::Pair());
  SyncSocket& parent = sockets.first;
  pid_t stage1 = ::fork();
  if (stage1 < 0) return ErrnoStatus("fork");
  if (stage1 == 0) {
    parent.Close();
    RunStage1(config, sockets.second);
  }
  sockets.second.Close();
  namespace_fds.clear();
  idmapped.clear();

  pid_t init = 0;
  absl::Status stage_status;
  while (init == 0 && stage_status.ok()) {
    absl::StatusOr<SyncMessage> message = parent.Receive();
    if (!message.ok()) {
      stage_status = message.status();
    } else if (message->type == SyncType::kMapIds) {
      stage_status = WriteIdMap(stage1, "uid_map", spec.linux.uid_mappings);
      if (stage_status.ok()) stage_status = WriteIdMap(stage1, "gid_map", spec.linux.gid_mappings);
      if (stage_status.ok()) stage_status = parent.Send({.type = SyncType::kIdsMapped});
    } else if (message->type == SyncType::kStagePid) {
      init = static_cast<pid_t>(message->value);
    } else if (message->type == SyncType::kError) {
      stage_status = absl::Status(static_cast<absl::StatusCode>(message->value), message->text);
    } else {
      stage_status = absl::InternalError("unexpected message from stage 1");
    }
  }
  int wait_status;
  while (::waitpid(stage1, &wait_status, 0) < 0 && errno == EINTR) {
  }
  RETURN_IF_ERROR(stage_status);
  rollback.set_init(init);
  uint64_t start_time = ProcessStartTime(init);

  // The init builds its rootfs meanwhile, but runs no user code (and mounts
  // no cgroup) until it is in its cgroup with limits set.
  std::optional<oci::Resources> resources = spec.linux.resources;
  if (resources) resources->devices = EffectiveDeviceRules(spec);
  absl::Status placed = cgroup->Place(init, resources ? &*resources : nullptr);
  if (!placed.ok()) return InitErrorOr(parent, placed);
  ContainerState state{.id = id,
                       .pid = init,
                       .pid_start_time = start_time,
                       .bundle = options.bundle,
                       .rootfs = spec.root.path,
                       .created = Rfc3339Now(),
                       .cgroup_path = cgroup_path,
                       .systemd_cgroup = runtime.systemd_cgroup,
                       .annotations = spec.annotations,
                       .owner = ::getuid()};
  // The state create hooks see: the runtime environment exists (status
  // "created", as runc reports it to them), the user program does not run.
  std::string created = OciStateJson(state, ContainerStatus::kCreated);
  RETURN_IF_ERROR(RunHooks(spec.hooks.create_runtime, "createRuntime", created));
  // If the init failed meanwhile, its error message is still queued on the
  // socket: report that rather than the failed send.
  absl::Status sent = parent.Send({.type = SyncType::kProceed, .text = created});
  RETURN_IF_ERROR(parent.Expect(SyncType::kReady).status());
  RETURN_IF_ERROR(sent);
  RETURN_IF_ERROR(SaveState(dir, state));
  if (!options.pid_file.empty())
    RETURN_IF_ERROR(WriteFileAtomically(options.pid_file, std::to_string(init)));
  rollback.Commit();
  return absl::OkStatus();
}

}  // namespace

absl::Status CreateContainer(const RuntimeOptions& runtime, const std::string& id,
                             const CreateOptions& options) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  std::string spec_path = options.bundle + "/config.json";
  ASSIGN_OR_RETURN(std::string spec_text, ReadFileToString(spec_path));
  ASSIGN_OR_RETURN(oci::Spec spec, oci::ParseBundleSpec(spec_text, options.bundle, spec_path));
  if (!spec.process.has_value())
    return absl::InvalidArgumentError("process: is required to create a container");
  RETURN_IF_ERROR(MakeDirectories(runtime.root, 0711));
  StateDir dir(runtime.root, id);
  // 0711: nothing in here is listable or readable by others. (The init
  // opens the exec fifo while still the host's root, then reopens it
  // through its own fd, so it needs no access by path.)
  if (::mkdir(dir.dir().c_str(), 0711) != 0) {
    if (errno == EEXIST)
      return absl::AlreadyExistsError(absl::StrCat("container ", id, " already exists"));
    return ErrnoStatus("mkdir " + dir.dir());
  }
  CreateRollback rollback(dir.dir());
  RETURN_IF_ERROR(WriteFileAtomically(dir.spec_file(), spec_text, 0600));
  return CreateWithRollback(runtime, id, options, spec, dir, rollback);
}

absl::Status StartContainer(const RuntimeOptions& runtime, const std::string& id) {
  StateDir dir(runtime.root, id);
  ASSIGN_OR_RETURN(ContainerState state, LoadState(dir, id));
  ContainerStatus status = StatusOf(dir, state);
  if (status != ContainerStatus::kCreated) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start container ", id, ": it is ", StatusName(status)));
  }
  ASSIGN_OR_RETURN(oci::Spec spec, LoadContainerSpec(dir, state));
  // Non-blocking: the init already waits on the write side; if it died, the
  // read sees end-of-file instead of hanging.
  UniqueFd fifo(::open(dir.exec_fifo().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo) return ErrnoStatus("open exec fifo of " + id);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (;;) {
    char byte;
    ssize_t n = ::read(fifo.get(), &byte, 1);
    if (n == 1) break;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return ErrnoStatus("read exec fifo of " + id);
    if (!InitAlive(state))
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " exited before it started"));
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError(absl::StrCat("container ", id, " did not start"));
    absl::SleepFor(absl::Microseconds(50));
  }
  // The init keeps its end open (close-on-exec) through its startContainer
  // hooks: end-of-file means the user program has been exec'd (or the init
  // died), and only then may poststart hooks run.
  for (;;) {
    pollfd entry{.fd = fifo.get(), .events = POLLIN};
    ::poll(&entry, 1, 10);
    char byte;
    ssize_t n = ::read(fifo.get(), &byte, 1);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return ErrnoStatus("read exec fifo of " + id);
    if (!InitAlive(state)) break;
  }
  ::unlink(dir.exec_fifo().c_str());
  RunHooksWarning(spec.hooks.poststart, "poststart",
                  OciStateJson(state, ContainerStatus::kRunning));
  return absl::OkStatus();
}

absl::StatusOr<ContainerInfo> InspectContainer(const RuntimeOptions& runtime,
                                               const std::string& id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  StateDir dir(runtime.root, id);
  ASSIGN_OR_RETURN(ContainerState state, LoadState(dir, id));
  return ContainerInfo{.state = state, .status = StatusOf(dir, state)};
}

absl::StatusOr<std::vector<ContainerInfo>> ListContainers(const RuntimeOptions& runtime) {
  std::vector<ContainerInfo> containers;
  DIR* root = ::opendir(runtime.root.c_str());
  if (root == nullptr) {
    if (errno == ENOENT) return containers;
    return ErrnoStatus("open " + runtime.root);
  }
  std::vector<std::string> ids;
  while (dirent* entry = ::readdir(root)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") ids.push_back(name);
  }
  ::closedir(root);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    absl::StatusOr<ContainerInfo> info = InspectContainer(runtime, id);
    if (info.ok()) containers.push_back(*std::move(info));  // half-made entries are skipped
  }
  return containers;
}

absl::Status KillContainer(const RuntimeOptions& runtime, const std::string& id, int signal,
                           bool all) {
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, id));
  if (info.status == ContainerStatus::kStopped && !all) {
    return absl::FailedPreconditionError(absl::StrCat("container not running: ", id));
  }
  if (all) {
    ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroup, CgroupFor(info.state));
    ASSIGN_OR_RETURN(std::vector<pid_t> pids, cgroup->Pids());
    for (pid_t pid : pids) ::kill(pid, signal);
    return absl::OkStatus();
  }
  if (::kill(info.state.pid, signal) != 0) return ErrnoStatus(absl::StrCat("kill container ", id));
  return absl::OkStatus();
}

absl::Status DeleteContainer(const RuntimeOptions& runtime, const std::string& id, bool force) {
  absl::StatusOr<ContainerInfo> info = InspectContainer(runtime, id);
  StateDir dir(runtime.root, id);
  if (absl::IsNotFound(info.status())) {
    if (!force) return info.status();
    std::error_code ignored;
    std::filesystem::remove_all(dir.dir(), ignored);  // a half-made entry, if any
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(info.status());
  const ContainerState& state = info->state;
  if (info->status == ContainerStatus::kRunning || info->status == ContainerStatus::kPaused) {
    if (!force) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot delete container ", id,
                       " that is not stopped: ", StatusName(info->status), " (use --force)"));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroup, CgroupFor(state));
  if (info->status != ContainerStatus::kStopped) {
    if (info->status == ContainerStatus::kPaused) (void)cgroup->Freeze(false);
    ::kill(state.pid, SIGKILL);
    RETURN_IF_ERROR(WaitGone(state.pid, state.pid_start_time, absl::Seconds(10)));
  }
  // Whatever the init left behind in its cgroup goes too.
  absl::StatusOr<std::vector<pid_t>> leftovers = cgroup->Pids();
  if (leftovers.ok()) {
    for (pid_t pid : *leftovers) ::kill(pid, SIGKILL);
  }
  RETURN_IF_ERROR(cgroup->Destroy());
  absl::StatusOr<oci::Spec> spec = LoadContainerSpec(dir, state);
  if (spec.ok()) {
    RunHooksWarning(spec->hooks.poststop, "poststop",
                    OciStateJson(state, ContainerStatus::kStopped));
  }
  std::error_code error;
  std::filesystem::remove_all(dir.dir(), error);
  if (error) return absl::InternalError(absl::StrCat("remove ", dir.dir(), ": ", error.message()));
  return absl::OkStatus();
}

absl::Status PauseContainer(const RuntimeOptions& runtime, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, id));
  if (info.status != ContainerStatus::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("container not running: ", id, " is ", StatusName(info.status)));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroup, CgroupFor(info.state));
  return cgroup->Freeze(true);
}

absl::Status ResumeContainer(const RuntimeOptions& runtime, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, id));
  if (info.status != ContainerStatus::kPaused) {
    return absl::FailedPreconditionError(
        absl::StrCat("container not paused: ", id, " is ", StatusName(info.status)));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroup, CgroupFor(info.state));
  return cgroup->Freeze(false);
}

absl::Status UpdateContainerResources(const RuntimeOptions& runtime, const std::string& id,
                                      const oci::Resources& resources) {
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, id));
  if (info.status == ContainerStatus::kStopped) {
    return absl::FailedPreconditionError(
        absl::StrCat("container not running: ", id, " is stopped"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroup, CgroupFor(info.state));
  return cgroup->SetResources(resources);
}

absl::StatusOr<std::vector<pid_t>> ContainerPids(const RuntimeOptions& runtime,
                                                 const std::string& id) {
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, id));
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroup, CgroupFor(info.state));
  return cgroup->Pids();
}

absl::StatusOr<int> RunContainer(const RuntimeOptions& runtime, const std::string& id,
                                 const CreateOptions& options, bool detach) {
  // The init's parent (stage 1) exits at once: as a subreaper we inherit it and can wait for it.
  if (!detach) RETURN_IF_ERROR(SignalForwarder::Block());
  if (!detach && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return ErrnoStatus("prctl(PR_SET_CHILD_SUBREAPER)");
  RETURN_IF_ERROR(CreateContainer(runtime, id, options));
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, id));
  absl::Status started = StartContainer(runtime, id);
  if (!started.ok()) {
    (void)DeleteContainer(runtime, id, true);
    return started;
  }
  if (detach) return 0;
  absl::StatusOr<int> exit_code = SignalForwarder::WaitForwarding(info.state.pid);
  RETURN_IF_ERROR(DeleteContainer(runtime, id, true));
  return exit_code;
}

}  // namespace berth
