#include "runtime/container_exec.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroups/cgroup_manager.h"
#include "runtime/oci/namespaces.h"
#include "runtime/oci/spec_parse.h"
#include "runtime/process_setup.h"
#include "runtime/procfs.h"
#include "runtime/rlimits.h"
#include "runtime/signal_forwarding.h"
#include "runtime/sync_socket.h"
#include "runtime/terminal.h"

namespace berth {
namespace {

struct ExecPlan {
  std::vector<std::pair<UniqueFd, int>> namespaces;  // in join order
  UniqueFd console;
  const oci::Seccomp* seccomp = nullptr;
};

[[noreturn]] void FailExec(SyncSocket& socket, const absl::Status& status) {
  socket.SendError(status);
  _exit(1);
}

[[noreturn]] void RunExecProcess(const ExecOptions& options, ExecPlan& plan, SyncSocket& socket) {
  const oci::Process& process = options.process;
  auto fail = [&](const absl::Status& status) { FailExec(socket, status); };
  if (::setsid() < 0) fail(ErrnoStatus("setsid"));
  if (process.terminal) {
    absl::Status terminal = SetUpTerminal(plan.console.get(), process, /*bind_dev_console=*/false);
    if (!terminal.ok()) fail(terminal);
    plan.console.Reset();
  }
  // In the container's pid namespace: its own procfs, for every write to /proc.
  absl::StatusOr<ProcFs> proc = ProcFs::Open();
  if (!proc.ok()) fail(proc.status());
  absl::Status status = ApplyRlimits(process.rlimits);
  if (status.ok()) status = ApplySecurityLabels(*proc, process);
  // Before the user's seccomp filter, which may refuse close_range.
  if (status.ok()) status = CloseFdsOnExecFrom(*proc, 3 + options.preserve_fds);
  if (status.ok()) status = FinalizeProcess(process, plan.seccomp);
  absl::StatusOr<std::string> program = status.ok() ? FindExecutable(process) : status;
  if (!program.ok()) fail(program.status());
  // The sync socket is close-on-exec: a successful exec shows up as end-of-file.
  absl::Status late = LoadLateSeccomp(process, plan.seccomp);
  if (!late.ok()) fail(late);
  FailExec(socket, ExecProgram(*program, process));
}

// The forked child: joins everything, then forks the process itself, since
// joining a pid namespace only applies to children.
[[noreturn]] void RunExecJoiner(const ExecOptions& options, ExecPlan& plan, CgroupManager& cgroup,
                                SyncSocket& socket) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  absl::Status status = cgroup.Join(::getpid());
  // While still the host's root: inside a user namespace, our own
  // oom_score_adj is a file the host's root owns. The process inherits it.
  if (status.ok() && options.process.oom_score_adj.has_value()) {
    absl::StatusOr<ProcFs> proc = ProcFs::Open();
    status = proc.ok() ? ApplyOomScoreAdj(*proc, *options.process.oom_score_adj) : proc.status();
  }
  for (auto& [fd, type] : plan.namespaces) {
    if (!status.ok()) break;
    if (::setns(fd.get(), type) != 0)
      status = ErrnoStatus(absl::StrCat("join namespace type 0x", absl::Hex(type)));
  }
  plan.namespaces.clear();
  if (!status.ok()) {
    socket.SendError(status);
    _exit(1);
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    socket.SendError(ErrnoStatus("fork"));
    _exit(1);
  }
  if (pid == 0) RunExecProcess(options, plan, socket);
  _exit(socket.Send({.type = SyncType::kStagePid, .value = pid}).ok() ? 0 : 1);
}

}  // namespace

absl::StatusOr<pid_t> StartExecInContainer(const RuntimeOptions& runtime, const std::string& id,
                                           const ExecOptions& options) {
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, id));
  if (info.status != ContainerStatus::kRunning && info.status != ContainerStatus::kCreated) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot exec in container ", id, ": it is ", StatusName(info.status)));
  }
  if (options.process.args.empty()) return absl::InvalidArgumentError("exec: no command given");
  ASSIGN_OR_RETURN(oci::Spec spec, LoadContainerSpec(StateDir(runtime.root, id), info.state));
  ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroup, NewCgroupManager(info.state.cgroup_path));

  // From here until exec this process and its children run our code; inside
  // the container's pid namespace that must not expose our binary through
  // /proc/<pid>/exe. Non-dumpable processes refuse that to everyone without
  // CAP_SYS_PTRACE over them; execve resets it for the user program.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return ErrnoStatus("prctl(PR_SET_DUMPABLE)");

  ExecPlan plan;
  plan.seccomp = spec.linux.seccomp ? &*spec.linux.seccomp : nullptr;
  for (const oci::NamespaceKind& kind : oci::kNamespaceKinds) {  // in join order
    if (spec.FindNamespace(kind.type) == nullptr) continue;
    std::string path = absl::StrCat("/proc/", info.state.pid, "/ns/", kind.proc_name);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return ErrnoStatus("open " + path);
    plan.namespaces.emplace_back(std::move(fd), kind.clone_flag);
  }
  if (!InitAlive(info.state))
    return absl::FailedPreconditionError(absl::StrCat("container ", id, " exited"));
  if (options.process.terminal) {
    if (options.console_fd >= 0) {
      plan.console.Reset(::fcntl(options.console_fd, F_DUPFD_CLOEXEC, 3));
      if (!plan.console) return ErrnoStatus("dup the console socket");
    } else if (options.console_socket.empty()) {
      return absl::InvalidArgumentError("exec --tty needs --console-socket");
    } else {
      ASSIGN_OR_RETURN(plan.console, ConnectConsoleSocket(options.console_socket));
    }
  }

  ASSIGN_OR_RETURN(auto sockets, SyncSocket::Pair());
  pid_t joiner = ::fork();
  if (joiner < 0) return ErrnoStatus("fork");
  if (joiner == 0) {
    sockets.first.Close();
    RunExecJoiner(options, plan, *cgroup, sockets.second);
  }
  sockets.second.Close();
  plan.namespaces.clear();
  plan.console.Reset();

  absl::StatusOr<SyncMessage> started = sockets.first.Expect(SyncType::kStagePid);
  int joiner_status;
  while (::waitpid(joiner, &joiner_status, 0) < 0 && errno == EINTR) {
  }
  if (!started.ok()) return started.status();
  pid_t pid = static_cast<pid_t>(started->value);
  // End-of-file: the process exec'd. A message: it failed before that.
  absl::StatusOr<SyncMessage> after = sockets.first.Receive();
  if (after.ok()) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (after->type == SyncType::kError)
      return absl::Status(static_cast<absl::StatusCode>(after->value), after->text);
    return absl::InternalError("unexpected message from exec'd process");
  }
  if (!options.pid_file.empty())
    RETURN_IF_ERROR(WriteFileAtomically(options.pid_file, std::to_string(pid)));
  return pid;
}

absl::StatusOr<int> ExecInContainer(const RuntimeOptions& runtime, const std::string& id,
                                    const ExecOptions& options) {
  // The process's parent (the joiner) exits at once; we adopt it to wait for it.
  if (!options.detach) {
    RETURN_IF_ERROR(SignalForwarder::Block());
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
      return ErrnoStatus("prctl(PR_SET_CHILD_SUBREAPER)");
  }
  ASSIGN_OR_RETURN(pid_t pid, StartExecInContainer(runtime, id, options));
  if (options.detach) return 0;
  return SignalForwarder::WaitForwarding(pid);
}

}  // namespace berth
