#pragma once

// What berthd tells a container's monitor, and where the monitor keeps its
// sockets and exit file. Shared by the monitor and its berthd-side client.

#include <string>

#include "absl/status/statusor.h"

namespace berth {

struct MonitorConfig {
  std::string id;
  std::string bundle;
  // An OCI runtime with runc's command line (runc, crun, berth-runtime) that
  // creates the container, for RuntimeClass handlers: an absolute path.
  // Empty: the in-tree executor, linked into the monitor.
  std::string runtime_binary;
  // The runtime's --root: its state directories, one per container.
  std::string runtime_root = "/run/berth-runtime";
  bool systemd_cgroup = false;
  // The monitor's own directory: config.json, its sockets and exit.json.
  // The monitor makes it 0700 before it binds a socket there.
  std::string state_dir;
  // The CRI log file. With log_directory (the pod's, CRI's
  // PodSandboxConfig.log_directory) it is relative to it and opened beneath
  // it; either way never through a symlink.
  std::string log_directory;
  std::string log_path;
  // Keep the container's stdin open for attachers; with stdin_once it is
  // closed when the first attacher detaches (kubectl run -i --rm).
  bool stdin = false;
  bool stdin_once = false;
  // The container has a terminal (process.terminal): its output is logged
  // as stdout, attachers' input goes to it, "resize H W" sizes it.
  bool tty = false;

  std::string config_file() const { return state_dir + "/config.json"; }
  // SOCK_SEQPACKET requests: "start", "reopen-log", "resize ROWS COLS";
  // replies "ok" or a failure as StatusToJson (exec_config.h) writes it. It stays connectable until
  // the monitor exits, which is how a waiter learns of the exit.
  std::string control_socket() const { return state_dir + "/control.sock"; }
  // SOCK_SEQPACKET, messages as in stream_protocol.h.
  std::string attach_socket() const { return state_dir + "/attach.sock"; }
  std::string console_socket() const { return state_dir + "/console.sock"; }
  std::string exit_file() const { return state_dir + "/exit.json"; }
  // With runtime_binary: where the runtime writes the init's pid on create,
  // and its --log (JSON lines; the last error explains a failed command).
  std::string init_pid_file() const { return state_dir + "/init.pid"; }
  std::string runtime_log() const { return state_dir + "/runtime.log"; }
};

absl::StatusOr<MonitorConfig> ParseMonitorConfig(const std::string& json_text);
std::string MonitorConfigToJson(const MonitorConfig& config);

}  // namespace berth
