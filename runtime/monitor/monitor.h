#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace berth {

// What berthd tells a monitor, as one JSON file (--config).
struct MonitorConfig {
  std::string id;
  std::string bundle;
  std::string runtime_root = "/run/berth-runtime";
  bool systemd_cgroup = false;
  // The monitor's own directory: control.sock and exit.json live here.
  std::string state_dir;
  std::string log_path;  // the CRI log file
  // Keep the container's stdin open for attachers; with stdin_once it is
  // closed when the first attacher detaches (kubectl run -i --rm).
  bool stdin = false;
  bool stdin_once = false;
  // The container has a terminal (process.terminal): its output is logged
  // as stdout, attachers' input goes to it, "resize H W" sizes it.
  bool tty = false;

  std::string control_socket() const { return state_dir + "/control.sock"; }
  // SOCK_SEQPACKET: each message to an attacher is one byte naming the
  // stream (1 stdout, 2 stderr) followed by output; each message from an
  // attacher is input for the container's stdin; hanging up detaches.
  std::string attach_socket() const { return state_dir + "/attach.sock"; }
  std::string console_socket() const { return state_dir + "/console.sock"; }
  std::string exit_file() const { return state_dir + "/exit.json"; }
};

absl::StatusOr<MonitorConfig> ParseMonitorConfig(const std::string& json_text);
std::string MonitorConfigToJson(const MonitorConfig& config);

// The monitor's life, in its own session: create the container with its
// output on pipes, report {"pid": N} (or {"error": "..."}) on `sync_fd`,
// then serve the control socket ("start", "reopen-log") and the attach
// socket, and copy output into
// the CRI log until the container's init exits; then write the exit file
// and return. Single-threaded: one poll loop.
absl::Status RunMonitor(const MonitorConfig& config, int sync_fd);

}  // namespace berth
