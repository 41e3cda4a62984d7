#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth {

// How a child process ended, in the shell's convention.
struct ExitStatus {
  int exit_code = 0;  // valid when !signaled
  int signal = 0;     // valid when signaled
  bool signaled = false;

  // Decodes a status from waitpid() for a process that has ended (exited or
  // killed): the one place berth reads WIFSIGNALED/WTERMSIG/WEXITSTATUS.
  static ExitStatus FromWaitStatus(int wait_status);

  // The exit code, or 128 + signal number for a killed process.
  int ShellCode() const { return signaled ? 128 + signal : exit_code; }
  std::string ToString() const;
};

struct SpawnOptions {
  // argv[0] must be a path: there is no PATH search.
  // Full environment of the child; nullopt inherits ours.
  std::optional<std::vector<std::string>> env;
  // Files the child's stdout / stderr go to (opened O_APPEND|O_CREAT);
  // empty keeps ours.
  std::string stdout_path;
  std::string stderr_path;
  // The child's stdin; -1 means /dev/null.
  int stdin_fd = -1;
  // Detach into a new session, so the child outlives our process group.
  bool new_session = false;
  // More fds for the child: {our fd, its number in the child}. Ours may be
  // close-on-exec (they should be, in a threaded process); the child's are not.
  std::vector<std::pair<int, int>> extra_fds;
};

// A child started with posix_spawn (safe from a multi-threaded process,
// unlike fork). The object owns the child: if it is still running when the
// object is destroyed, it is killed (by its pid, which only we can reuse
// while it is unreaped) and reaped. Call Release() for a child meant to outlive us.
class ChildProcess {
 public:
  static absl::StatusOr<ChildProcess> Spawn(const std::vector<std::string>& argv,
                                            const SpawnOptions& options = {});

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  absl::Status Signal(int signal_number);
  // Blocks until the child exits.
  absl::StatusOr<ExitStatus> Wait();
  // Waits at most `timeout`; DeadlineExceeded if the child is still running.
  absl::StatusOr<ExitStatus> WaitFor(absl::Duration timeout);
  // Gives up ownership: the child is neither killed nor reaped by us.
  pid_t Release();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  void KillAndReap();

  pid_t pid_ = -1;
};

}  // namespace berth
