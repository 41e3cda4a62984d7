// berth-monitor: one per container, like conmon. berthd spawns it in a new
// session, so it outlives berthd; it creates the container, writes its CRI
// log and, when the container exits, its exit file.
//
//   berth-monitor --config FILE [--sync-fd N]

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "runtime/base/atomic_file.h"
#include "runtime/monitor/monitor.h"

int main(int argc, char** argv) {
  std::string config_path;
  int sync_fd = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--config") == 0) {
      config_path = argv[i + 1];
    } else if (std::strcmp(argv[i], "--sync-fd") == 0) {
      if (!absl::SimpleAtoi(argv[i + 1], &sync_fd)) sync_fd = -1;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: berth-monitor --config FILE [--sync-fd N]\n");
    return 2;
  }
  if (sync_fd >= 0) ::fcntl(sync_fd, F_SETFD, FD_CLOEXEC);  // never into the container
  absl::StatusOr<std::string> text = berth::ReadFileToString(config_path);
  absl::StatusOr<berth::MonitorConfig> config =
      text.ok() ? berth::ParseMonitorConfig(*text)
                : absl::StatusOr<berth::MonitorConfig>(text.status());
  if (!config.ok()) {
    std::fprintf(stderr, "berth-monitor: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  absl::Status status = berth::RunMonitor(*config, sync_fd);
  if (!status.ok()) {
    std::fprintf(stderr, "berth-monitor: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
