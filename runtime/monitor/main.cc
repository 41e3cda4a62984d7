// berth-monitor: one per container, like conmon, and one per exec session.
//
//   berth-monitor --config FILE [--sync-fd N]
//       A container's monitor. It daemonizes at once (the process berthd
//       spawned exits), so it is nobody's child but init's and outlives
//       berthd; it creates the container, writes its CRI log and, when the
//       container exits, its exit file. See monitor.h.
//   berth-monitor --exec --channel-fd N
//       An exec session over the socket N. See exec_session.h.

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "runtime/base/atomic_file.h"
#include "runtime/monitor/exec_session.h"
#include "runtime/monitor/monitor.h"
#include "runtime/sealed_binary.h"

namespace {

constexpr char kUsage[] = R"(BERTH-MONITOR(8)

NAME
    berth-monitor - watches one container, or serves one exec session

SYNOPSIS
    berth-monitor --config FILE [--sync-fd N]
    berth-monitor --exec --channel-fd N
    berth-monitor --help

DESCRIPTION
    berthd starts one monitor per pod sandbox and container, as conmon is
    for CRI-O. With --config it daemonizes at once, so it outlives berthd;
    it creates and starts the container through berth's executor (or
    another OCI runtime), writes the CRI log, keeps the terminal and the
    attach socket, and writes the exit file when the container ends.
    Reports its progress on the inherited fd N (--sync-fd). With --exec it
    runs one exec session for berthd over the socket N. Every mode runs
    from a sealed copy of its binary, which a container cannot rewrite.

FILES
    <state dir>/monitor/config.json   what to run (written by berthd)
    <state dir>/monitor/control.sock  start, resize, reopen-log requests
    <state dir>/monitor/attach.sock   attach sessions
    <state dir>/monitor/exit.json     how the container ended

EXIT STATUS
    0 done; 1 failed (the reason on stderr); 2 bad usage or config.

SEE ALSO
    berthd(8), berth-runtime(8)
)";

int Fail(const absl::Status& status, int code) {
  std::fprintf(stderr, "berth-monitor: %s\n", std::string(status.message()).c_str());
  return code;
}

int RunContainerMonitor(const std::string& config_path, int sync_fd) {
  absl::StatusOr<std::string> text = berth::ReadFileToString(config_path);
  absl::StatusOr<berth::MonitorConfig> config =
      text.ok() ? berth::ParseMonitorConfig(*text)
                : absl::StatusOr<berth::MonitorConfig>(text.status());
  if (!config.ok()) return Fail(config.status(), 2);
  // Daemonize: whoever spawned us reaps this process at once; the monitor
  // lives on as an orphan in the session it was spawned into.
  pid_t pid = ::fork();
  if (pid < 0) return Fail(absl::InternalError("fork failed"), 1);
  if (pid > 0) _exit(0);
  absl::Status status = berth::RunMonitor(*config, sync_fd);
  return status.ok() ? 0 : Fail(status, 1);
}

}  // namespace

int main(int argc, char** argv) {
  // Both modes run our code inside the container; returns only when sealed or failed.
  if (absl::Status sealed = berth::ReexecFromSealedBinary(argv); !sealed.ok())
    return Fail(sealed, 1);
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::string config_path;
  bool exec = false;
  int sync_fd = -1, channel_fd = -1;
  for (int i = 1; i < argc; ++i) {
    bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--exec") == 0) {
      exec = true;
    } else if (std::strcmp(argv[i], "--config") == 0 && has_value) {
      config_path = argv[++i];
    } else if (std::strcmp(argv[i], "--sync-fd") == 0 && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &sync_fd)) sync_fd = -1;
    } else if (std::strcmp(argv[i], "--channel-fd") == 0 && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &channel_fd)) channel_fd = -1;
    } else {
      config_path.clear();
      channel_fd = -1;
      break;
    }
  }
  // Neither fd may reach a container.
  if (sync_fd >= 0) ::fcntl(sync_fd, F_SETFD, FD_CLOEXEC);
  if (channel_fd >= 0) ::fcntl(channel_fd, F_SETFD, FD_CLOEXEC);
  if (exec && channel_fd >= 0) {
    absl::Status status = berth::RunExecSession(channel_fd);
    return status.ok() ? 0 : Fail(status, 1);
  }
  if (!exec && !config_path.empty()) return RunContainerMonitor(config_path, sync_fd);
  std::fputs(kUsage, stderr);
  return 2;
}
