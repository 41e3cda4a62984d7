#include "runtime/signal_forwarding.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"

namespace berth {
namespace {

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

sigset_t ForwardedSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kForwarded) sigaddset(&set, sig);
  sigaddset(&set, SIGCHLD);
  return set;
}

}  // namespace

absl::Status SignalForwarder::Block() {
  sigset_t set = ForwardedSet();
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return ErrnoStatus("block signals");
  return absl::OkStatus();
}

absl::StatusOr<int> SignalForwarder::WaitForwarding(pid_t pid) {
  sigset_t set = ForwardedSet();
  for (;;) {
    // Reap every child that has exited: as a subreaper we also adopt the
    // container's orphans, and one of them may be the process we wait for.
    int status;
    pid_t done;
    while ((done = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (done == pid) return ExitStatus::FromWaitStatus(status).ShellCode();
    }
    if (done < 0 && errno != EINTR) return ErrnoStatus("wait for the container process");
    // A SIGCHLD that arrived after the loop is still pending: nothing is missed.
    siginfo_t info;
    int sig = sigwaitinfo(&set, &info);
    if (sig > 0 && sig != SIGCHLD) ::kill(pid, sig);
  }
}

void ResetSignalsForExec() {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &default_action, nullptr);  // fails harmlessly for the reserved ones
  }
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
}

}  // namespace berth
