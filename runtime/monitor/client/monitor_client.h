#pragma once

// berthd's side of berth-monitor: everything the container RPCs need from a
// container's monitor (create, start, wait for the exit, attach, reopen the
// log) and exec sessions (ExecSync, Exec). All of it is talk over files and
// sockets in the monitor's state directory, so a client that starts after
// a berthd restart picks up where the last one left off.
//
// MonitorClient is an interface so the RPC layer can be unit-tested with
// FakeMonitorClient (tests/support/fake_monitor_client.h).

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/monitor/exec_config.h"
#include "runtime/monitor/exit_file.h"
#include "runtime/monitor/monitor_config.h"
#include "runtime/monitor/stream_protocol.h"

namespace berth {

// One attach or exec stream, for the streaming server to pump.
class StreamSession {
 public:
  virtual ~StreamSession() = default;

  struct Event {
    enum Kind { kStdout, kStderr, kExit, kEnd } kind = kEnd;
    std::string data;  // output, for kStdout and kStderr
    ExecExit exit;     // for kExit (exec sessions only)
  };
  // The next output, the exec's exit, or kEnd once the stream is over.
  // DeadlineExceeded if nothing comes within `timeout`.
  virtual absl::StatusOr<Event> Next(absl::Duration timeout) = 0;
  // Input for the process: kStdin (at most kMaxStreamPayload bytes),
  // kCloseStdin or kResize (ResizePayload). Never blocks: false when the
  // channel is full; offer it again once fd() is writable.
  virtual absl::StatusOr<bool> OfferInput(StreamTag tag, absl::string_view payload) = 0;
  // Readable when Next has something; -1 if the session cannot be polled.
  virtual int fd() const = 0;
};

struct ExecSyncResult {
  ExecExit exit;
  std::string stdout_data;  // at most the cap; the rest is dropped
  std::string stderr_data;
};

class MonitorClient {
 public:
  // containerd's cap for each of ExecSync's output streams.
  static constexpr size_t kExecSyncOutputCap = 16 << 20;

  virtual ~MonitorClient() = default;

  // Spawns the container's monitor (config.state_dir must exist), which
  // creates the container; returns the container's init pid once created,
  // or the error that stopped it.
  virtual absl::StatusOr<pid_t> Create(const MonitorConfig& config) = 0;
  // Lets the created container run its program.
  virtual absl::Status Start(const std::string& state_dir) = 0;
  // After kubelet rotated the log file.
  virtual absl::Status ReopenLog(const std::string& state_dir) = 0;
  virtual absl::Status Resize(const std::string& state_dir, TerminalSize size) = 0;
  // How the container ended. With a zero timeout, only looks; otherwise
  // waits at most `timeout`. DeadlineExceeded while it runs.
  virtual absl::StatusOr<ExitRecord> WaitForExit(const std::string& state_dir,
                                                 absl::Duration timeout) = 0;
  virtual absl::StatusOr<std::unique_ptr<StreamSession>> Attach(const std::string& state_dir) = 0;

  // Runs a process in a running container and collects its output, each
  // stream capped at `output_cap`. A timeout shows as exit.timed_out.
  virtual absl::StatusOr<ExecSyncResult> ExecSync(const ExecConfig& config,
                                                  size_t output_cap = kExecSyncOutputCap) = 0;
  // Starts a process in a running container and hands over its streams.
  virtual absl::StatusOr<std::unique_ptr<StreamSession>> Exec(const ExecConfig& config) = 0;
};

// The real client, spawning `monitor_binary` (berth-monitor).
std::unique_ptr<MonitorClient> NewMonitorClient(std::string monitor_binary);

}  // namespace berth
