#include "runtime/container_init.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/hooks.h"
#include "runtime/process_setup.h"
#include "runtime/procfs.h"
#include "runtime/rlimits.h"
#include "runtime/rootfs.h"
#include "runtime/signal_forwarding.h"
#include "runtime/terminal.h"

extern char** environ;

namespace berth {
namespace {

absl::Status WriteSysctls(const ProcFs& proc, const std::map<std::string, std::string>& sysctls) {
  for (const auto& [key, value] : sysctls) {
    if (key.find("..") != std::string::npos || key.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("linux.sysctl.", key, ": invalid name"));
    }
    absl::Status written =
        proc.Write(absl::StrCat("sys/", absl::StrReplaceAll(key, {{".", "/"}})), value);
    if (!written.ok()) {
      return absl::Status(written.code(),
                          absl::StrCat("set sysctl ", key, "=", value, ": ", written.message()));
    }
  }
  return absl::OkStatus();
}

// What the init reaches by host path, opened while stage 1 is still the
// host's root: in a user namespace, the pod's root may not cross the
// directories that hold them.
struct HostHandles {
  UniqueFd console;  // connected to --console-socket
  UniqueFd fifo;     // O_PATH; reopened for writing after pivot
};

absl::StatusOr<HostHandles> OpenHostHandles(const InitConfig& config) {
  HostHandles host;
  if (config.spec->process->terminal) {
    if (config.console_socket.empty()) {
      return absl::InvalidArgumentError("process.terminal needs --console-socket");
    }
    ASSIGN_OR_RETURN(host.console, ConnectConsoleSocket(config.console_socket));
  }
  host.fifo.Reset(::open(config.exec_fifo.c_str(), O_PATH | O_CLOEXEC));
  if (!host.fifo) return ErrnoStatus("open exec fifo " + config.exec_fifo);
  return host;
}

// Everything the init does before it reports ready.
absl::Status SetUpInit(const InitConfig& config, SyncSocket& socket, HostHandles& host,
                       std::string& state_json, UniqueFd& fd_dir) {
  const oci::Spec& spec = *config.spec;
  const oci::Process& process = *spec.process;
  // The container's processes get a session of their own.
  if (::setsid() < 0) return ErrnoStatus("setsid");
  // Mode bits are the spec's, not our umask's.
  ::umask(0);

  RootfsOptions rootfs{
      .bundle = config.bundle,
      .in_user_namespace = config.new_user_namespace || config.join_user_namespace_fd >= 0,
      .idmapped_mounts = config.idmapped_mounts,
      .cgroup_dirs = config.cgroup_dirs,
      .cgroup_version = config.cgroup_version,
      .before_cgroup_mounts = [&]() -> absl::Status {
        // The parent has put us in our cgroup: now the
        // cgroup namespace can be rooted there.
        ASSIGN_OR_RETURN(SyncMessage proceed, socket.Expect(SyncType::kProceed));
        state_json = proceed.text;  // for the hooks we run
        if (config.new_cgroup_namespace && ::unshare(CLONE_NEWCGROUP) != 0) {
          return ErrnoStatus("unshare cgroup namespace");
        }
        return absl::OkStatus();
      },
      .before_pivot = [&]() -> absl::Status {
        // In the container's namespaces, host paths still reachable.
        return RunHooks(spec.hooks.create_container, "createContainer", state_json);
      }};
  RETURN_IF_ERROR(PrepareRootfs(spec, rootfs));
  // In the container's pid namespace now: its own procfs, for every write to /proc.
  ASSIGN_OR_RETURN(ProcFs proc, ProcFs::Open());
  ASSIGN_OR_RETURN(fd_dir, proc.OpenSelfFdDirectory());
  if (process.terminal)
    RETURN_IF_ERROR(SetUpTerminal(host.console.get(), process, /*bind_dev_console=*/true));
  host.console.Reset();

  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
    return ErrnoStatus("sethostname " + spec.hostname);
  }
  if (!spec.domainname.empty() &&
      ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0) {
    return ErrnoStatus("setdomainname " + spec.domainname);
  }
  RETURN_IF_ERROR(WriteSysctls(proc, spec.linux.sysctl));
  RETURN_IF_ERROR(ApplyRlimits(process.rlimits));
  RETURN_IF_ERROR(ApplySecurityLabels(proc, process));
  // Our own housekeeping comes before the user's seccomp filter, which may
  // not allow close_range or getcwd.
  RETURN_IF_ERROR(CloseFdsOnExecFrom(proc, 3 + config.preserve_fds));
  const oci::Seccomp* seccomp = spec.linux.seccomp ? &*spec.linux.seccomp : nullptr;
  RETURN_IF_ERROR(FinalizeProcess(process, seccomp));
  return absl::OkStatus();
}

[[noreturn]] void RunInit(const InitConfig& config, SyncSocket& socket, HostHandles& host) {
  const oci::Process& process = *config.spec->process;
  std::string state_json;
  UniqueFd fd_dir;  // ours in /proc, to reopen the fifo for writing
  absl::Status status = SetUpInit(config, socket, host, state_json, fd_dir);
  UniqueFd fifo = std::move(host.fifo);
  absl::StatusOr<std::string> program = status.ok() ? FindExecutable(process) : status;
  if (!program.ok()) {
    socket.SendError(program.status());
    _exit(1);
  }
  if (!socket.Send({.type = SyncType::kReady}).ok()) _exit(1);
  socket.Close();

  // Blocks until `start` opens the fifo for reading.
  UniqueFd writer(::openat(fd_dir.get(), std::to_string(fifo.get()).c_str(), O_WRONLY | O_CLOEXEC));
  if (!writer || ::write(writer.get(), "0", 1) != 1) {
    std::fprintf(stderr, "berth-runtime: wait for start: %s\n", std::strerror(errno));
    _exit(1);
  }
  // `writer` stays open until exec (it is close-on-exec): `start` waits for
  // that end-of-file before running poststart hooks.
  fifo.Reset();
  // Inside the container, after start and before the user program.
  absl::Status start_hooks =
      RunHooks(config.spec->hooks.start_container, "startContainer", state_json);
  if (!start_hooks.ok()) {
    std::fprintf(stderr, "berth-runtime: %s\n", std::string(start_hooks.message()).c_str());
    _exit(1);
  }
  fd_dir.Reset();
  absl::Status late =
      LoadLateSeccomp(process, config.spec->linux.seccomp ? &*config.spec->linux.seccomp : nullptr);
  if (!late.ok()) {
    std::fprintf(stderr, "berth-runtime: %s\n", std::string(late.message()).c_str());
    _exit(1);
  }
  absl::Status exec_failed = ExecProgram(*program, process);
  std::fprintf(stderr, "berth-runtime: %s\n", std::string(exec_failed.message()).c_str());
  _exit(127);
}

absl::StatusOr<pid_t> Stage1(const InitConfig& config, SyncSocket& socket) {
  // While still the host's root: inside a user namespace, our own
  // oom_score_adj is a file the host's root owns. The init inherits it.
  if (config.spec->process.has_value() && config.spec->process->oom_score_adj.has_value()) {
    ASSIGN_OR_RETURN(ProcFs proc, ProcFs::Open());
    RETURN_IF_ERROR(ApplyOomScoreAdj(proc, *config.spec->process->oom_score_adj));
  }
  ASSIGN_OR_RETURN(HostHandles host, OpenHostHandles(config));
  // The host's root may join any namespace; inside a user namespace we
  // could no longer join those the host owns (a pod's network namespace),
  // so the others come first.
  for (const auto& [fd, type] : config.join_namespaces) {
    if (::setns(fd, type) != 0)
      return ErrnoStatus(absl::StrCat("join namespace (type 0x", absl::Hex(type), ")"));
  }
  if (config.join_user_namespace_fd >= 0 &&
      ::setns(config.join_user_namespace_fd, CLONE_NEWUSER) != 0) {
    return ErrnoStatus("join user namespace");
  }
  if (config.new_user_namespace) {
    if (::unshare(CLONE_NEWUSER) != 0) return ErrnoStatus("unshare user namespace");
    RETURN_IF_ERROR(socket.Send({.type = SyncType::kMapIds}));
    RETURN_IF_ERROR(socket.Expect(SyncType::kIdsMapped).status());
  }
  if (config.new_user_namespace || config.join_user_namespace_fd >= 0) {
    // Become the namespace's root so the remaining setup is permitted.
    if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)
      return ErrnoStatus("become root in the user namespace");
  }
  if (config.unshare_flags != 0 && ::unshare(config.unshare_flags) != 0)
    return ErrnoStatus("unshare namespaces");
  // A new pid namespace applies to our children: fork the init into it.
  pid_t init = ::fork();
  if (init < 0) return ErrnoStatus("fork container init");
  if (init == 0) RunInit(config, socket, host);
  return init;
}

}  // namespace

void RunStage1(const InitConfig& config, SyncSocket& socket) {
  // Die with berth-runtime rather than finish a container nobody waits for.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  absl::StatusOr<pid_t> init = Stage1(config, socket);
  if (!init.ok()) {
    socket.SendError(init.status());
    _exit(1);
  }
  _exit(socket.Send({.type = SyncType::kStagePid, .value = *init}).ok() ? 0 : 1);
}

}  // namespace berth
