#include "runtime/process_setup.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/capabilities.h"
#include "runtime/lsm.h"
#include "runtime/seccomp_filter.h"
#include "runtime/signal_forwarding.h"

namespace berth {

absl::Status ApplyOomScoreAdj(const ProcFs& proc, int value) {
  std::string text = std::to_string(value);
  std::string file = ProcFs::Self("oom_score_adj");
  absl::Status written = proc.Write(file, text);
  if (written.ok() || !absl::IsPermissionDenied(written)) return written;
  absl::StatusOr<std::string> current = proc.Read(file);
  int current_value = 0;
  if (current.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*current), &current_value) &&
      value < current_value) {
    std::fprintf(stderr,
                 "berth-runtime: warning: oom_score_adj %d is below the current %d and needs "
                 "CAP_SYS_RESOURCE; keeping %d\n",
                 value, current_value, current_value);
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("write oom_score_adj ", text, ": permission denied"));
}

absl::Status ApplySecurityLabels(const ProcFs& proc, const oci::Process& process) {
  LsmSupport lsm = DetectLsm();
  if (std::string unenforced = UnenforcedLabels(process, lsm); !unenforced.empty())
    std::fprintf(stderr, "berth-runtime: warning: %s\n", unenforced.c_str());
  if (!process.apparmor_profile.empty() && lsm.apparmor) {
    // attr/apparmor/exec since Linux 5.8; attr/exec before.
    std::string request = "exec " + process.apparmor_profile;
    absl::Status set = proc.Write(ProcFs::Self("attr/apparmor/exec"), request);
    if (absl::IsNotFound(set)) set = proc.Write(ProcFs::Self("attr/exec"), request);
    if (!set.ok()) {
      return absl::Status(set.code(), absl::StrCat("apply AppArmor profile ",
                                                   process.apparmor_profile, ": ", set.message()));
    }
  }
  if (!process.selinux_label.empty() && lsm.selinux) {
    absl::Status set = proc.Write(ProcFs::Self("attr/exec"), process.selinux_label);
    if (!set.ok()) {
      return absl::Status(set.code(), absl::StrCat("apply SELinux label ", process.selinux_label,
                                                   ": ", set.message()));
    }
  }
  return absl::OkStatus();
}

namespace {

// chdir, then check where we are: a cwd reached through a leaked fd or
// magic link would lie outside the root, which the kernel reports as
// "(unreachable)".
absl::Status EnterCwd(const std::string& cwd) {
  if (::chdir(cwd.c_str()) != 0) return ErrnoStatus("chdir to process.cwd " + cwd);
  char where[4096];
  if (::getcwd(where, sizeof(where)) == nullptr || where[0] != '/') {
    return absl::PermissionDeniedError(
        absl::StrCat("process.cwd ", cwd, " is outside the container root"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FinalizeProcess(const oci::Process& process, const oci::Seccomp* seccomp) {
  // As root first, before any filter; a cwd only the container's user may
  // enter is entered again after the switch below.
  absl::Status cwd = EnterCwd(process.cwd);
  if (!cwd.ok() && !absl::IsPermissionDenied(cwd)) return cwd;
  bool cwd_pending = !cwd.ok();
  if (seccomp != nullptr && !process.no_new_privileges)
    RETURN_IF_ERROR(LoadSeccompFilter(*seccomp));
  if (process.capabilities.has_value())
    RETURN_IF_ERROR(DropBoundingCapabilities(*process.capabilities));

  // Keep the permitted set across the uid change; capset below then trims it.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return ErrnoStatus("prctl(PR_SET_KEEPCAPS)");
  const oci::User& user = process.user;
  if (::setgroups(user.additional_gids.size(), user.additional_gids.data()) != 0) {
    // In a user namespace with setgroups denied, an empty list is the only option.
    if (!(errno == EPERM && user.additional_gids.empty())) return ErrnoStatus("setgroups");
  }
  if (::setresgid(user.gid, user.gid, user.gid) != 0)
    return ErrnoStatus(absl::StrCat("setgid ", user.gid));
  if (::setresuid(user.uid, user.uid, user.uid) != 0)
    return ErrnoStatus(absl::StrCat("setuid ", user.uid));
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return ErrnoStatus("prctl(PR_SET_KEEPCAPS)");
  if (process.capabilities.has_value()) {
    RETURN_IF_ERROR(SetProcessCapabilities(*process.capabilities));
    RETURN_IF_ERROR(RaiseAmbientCapabilities(*process.capabilities));
  }
  ::umask(user.umask.value_or(022));

  if (cwd_pending) RETURN_IF_ERROR(EnterCwd(process.cwd));
  if (process.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return ErrnoStatus("prctl(PR_SET_NO_NEW_PRIVS)");
  }
  return absl::OkStatus();
}

absl::Status LoadLateSeccomp(const oci::Process& process, const oci::Seccomp* seccomp) {
  if (seccomp == nullptr || !process.no_new_privileges) return absl::OkStatus();
  return LoadSeccompFilter(*seccomp);
}

absl::StatusOr<std::string> FindExecutable(const oci::Process& process) {
  const std::string& program = process.args[0];
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) != 0)
      return ErrnoStatus(absl::StrCat("exec \"", program, "\""));
    return program;
  }
  std::string path_value = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& entry : process.env) {
    if (absl::StartsWith(entry, "PATH=")) path_value = entry.substr(5);
  }
  for (absl::string_view dir : absl::StrSplit(path_value, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("exec \"", program, "\": executable file not found in $PATH"));
}

absl::Status ExecProgram(const std::string& program, const oci::Process& process) {
  std::vector<char*> argv, envp;
  for (const std::string& arg : process.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (const std::string& entry : process.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  ResetSignalsForExec();
  ::execve(program.c_str(), argv.data(), envp.data());
  return ErrnoStatus("exec " + program);
}

absl::Status CloseFdsOnExecFrom(const ProcFs& proc, int first) {
  if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return absl::OkStatus();
  // Kernels before 5.11, or a filter that refuses close_range.
  ASSIGN_OR_RETURN(UniqueFd dir_path, proc.OpenSelfFdDirectory());
  UniqueFd dir_fd(::openat(dir_path.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return ErrnoStatus("open /proc/self/fd");
  DIR* dir = ::fdopendir(dir_fd.Release());
  if (dir == nullptr) return ErrnoStatus("read /proc/self/fd");
  int listing = ::dirfd(dir);
  while (dirent* entry = ::readdir(dir)) {
    int fd;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd < first || fd == listing) continue;
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
  ::closedir(dir);
  return absl::OkStatus();
}

}  // namespace berth
