// berth-pause: the process that holds a pod's namespaces. It does nothing
// but wait: as PID 1 of a pod's shared pid namespace it reaps the zombies
// orphaned processes leave, and it exits cleanly on SIGINT or SIGTERM (PID 1
// gets no default action for them, so they are waited for explicitly).
// Static and libc-only, so a pod needs no image and costs a few pages.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

constexpr char kUsage[] = R"(BERTH-PAUSE(8)

NAME
    berth-pause - holds a pod's namespaces

SYNOPSIS
    berth-pause
    berth-pause -v | --help

DESCRIPTION
    The pause process of berth's pod sandboxes: berthd runs it as /pause in
    each pod, where it keeps the pod's network, IPC and UTS namespaces
    (and user and PID ones, when the pod has them) alive. It waits: as PID
    1 of a shared PID namespace it reaps orphaned zombies. Static and
    libc-only, so a pod needs no pause image.

SIGNALS
    SIGINT, SIGTERM  exit 0

SEE ALSO
    berthd(8)
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "-v") == 0) {
    std::puts("berth-pause 0.1.0");
    return 0;
  }
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGCHLD);
  sigaddset(&waited, SIGINT);
  sigaddset(&waited, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &waited, nullptr) != 0) {
    std::perror("berth-pause: sigprocmask");
    return 1;
  }
  for (;;) {
    int signal_number = 0;
    if (sigwait(&waited, &signal_number) != 0) continue;
    if (signal_number == SIGINT || signal_number == SIGTERM) return 0;
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
}
