#pragma once

// An in-memory MonitorClient for unit tests of the container RPCs: no
// processes, no sockets. Tests drive it: they end containers with Exit(),
// script exec results, and inject failures. Test-only: it is linked through
// berth_fake_monitor_client (tests/support), never into berthd.

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "runtime/monitor/client/monitor_client.h"

namespace berth::testing {

class FakeMonitorClient : public MonitorClient {
 public:
  struct Container {
    MonitorConfig config;
    pid_t pid = 0;
    bool started = false;
    int log_reopens = 0;
    std::optional<TerminalSize> size;
    std::optional<ExitRecord> exit;
  };
  using ExecHandler = std::function<absl::StatusOr<ExecSyncResult>(const ExecConfig&)>;

  // The next Create fails with `status` and creates nothing.
  void FailNextCreate(absl::Status status);
  // The container in `state_dir` ends: WaitForExit returns `record`.
  void Exit(const std::string& state_dir, const ExitRecord& record);
  // What execs produce; by default exit code 0 and no output.
  void SetExecHandler(ExecHandler handler);

  std::optional<Container> Find(const std::string& state_dir) const;
  std::vector<ExecConfig> execs() const;

  absl::StatusOr<pid_t> Create(const MonitorConfig& config) override;
  absl::Status Start(const std::string& state_dir) override;
  absl::Status ReopenLog(const std::string& state_dir) override;
  absl::Status Resize(const std::string& state_dir, TerminalSize size) override;
  absl::StatusOr<ExitRecord> WaitForExit(const std::string& state_dir,
                                         absl::Duration timeout) override;
  absl::StatusOr<std::unique_ptr<StreamSession>> Attach(const std::string& state_dir) override;
  absl::StatusOr<ExecSyncResult> ExecSync(const ExecConfig& config,
                                          size_t output_cap = kExecSyncOutputCap) override;
  absl::StatusOr<std::unique_ptr<StreamSession>> Exec(const ExecConfig& config) override;

 private:
  // A running container's monitor, or the status a real client would give.
  absl::StatusOr<Container*> Running(const std::string& state_dir)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::StatusOr<ExecSyncResult> RunExec(const ExecConfig& config);

  mutable absl::Mutex mutex_;
  std::map<std::string, Container> containers_ ABSL_GUARDED_BY(mutex_);
  std::optional<absl::Status> create_failure_ ABSL_GUARDED_BY(mutex_);
  ExecHandler exec_handler_ ABSL_GUARDED_BY(mutex_);
  std::vector<ExecConfig> execs_ ABSL_GUARDED_BY(mutex_);
  pid_t next_pid_ ABSL_GUARDED_BY(mutex_) = 1000;
};

}  // namespace berth::testing
