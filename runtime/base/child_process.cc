#include "runtime/base/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

extern char** environ;

namespace berth {
namespace {

std::vector<char*> ToCharPointers(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// posix_spawn attributes and file actions, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

ExitStatus ExitStatus::FromWaitStatus(int wait_status) {
  ExitStatus exit;
  if (WIFSIGNALED(wait_status)) {
    exit.signaled = true;
    exit.signal = WTERMSIG(wait_status);
  } else {
    exit.exit_code = WEXITSTATUS(wait_status);
  }
  return exit;
}

std::string ExitStatus::ToString() const {
  return signaled ? absl::StrCat("killed by signal ", signal)
                  : absl::StrCat("exit code ", exit_code);
}

absl::StatusOr<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                                 const SpawnOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("spawn: empty argv");
  SpawnSetup setup;
  // The child starts with default signal handling and an empty mask, whatever
  // the spawning thread had blocked.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (options.new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&setup.attr, flags);

  if (options.stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&setup.actions, options.stdin_fd, STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (!options.stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&setup.actions, STDOUT_FILENO, options.stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  if (!options.stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&setup.actions, STDERR_FILENO, options.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  for (const auto& [ours, theirs] : options.extra_fds)
    posix_spawn_file_actions_adddup2(&setup.actions, ours, theirs);

  std::vector<char*> args = ToCharPointers(argv);
  std::vector<char*> env_pointers;
  char** envp = environ;
  if (options.env.has_value()) {
    env_pointers = ToCharPointers(*options.env);
    envp = env_pointers.data();
  }
  pid_t pid = -1;
  int error = posix_spawn(&pid, args[0], &setup.actions, &setup.attr, args.data(), envp);
  if (error != 0)
    return berth::ErrnoToStatus(error, absl::StrCat("spawn ", absl::StrJoin(argv, " ")));
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(other.Release()) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = other.Release();
  }
  return *this;
}

ChildProcess::~ChildProcess() { KillAndReap(); }

void ChildProcess::KillAndReap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

absl::Status ChildProcess::Signal(int signal_number) {
  if (pid_ <= 0) return absl::FailedPreconditionError("signal: child already reaped");
  if (::kill(pid_, signal_number) != 0) return ErrnoStatus(absl::StrCat("kill ", pid_));
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> ChildProcess::Wait() {
  if (pid_ <= 0) return absl::FailedPreconditionError("wait: child already reaped");
  int status;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(absl::StrCat("waitpid ", pid_));
  }
  pid_ = -1;
  return ExitStatus::FromWaitStatus(status);
}

absl::StatusOr<ExitStatus> ChildProcess::WaitFor(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("wait: child already reaped");
  // A pidfd becomes readable the moment the child exits: no polling delay.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (!pidfd) return ErrnoStatus(absl::StrCat("pidfd_open ", pid_));
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    pollfd entry{.fd = pidfd.get(), .events = POLLIN};
    int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    int ready = ::poll(&entry, 1, static_cast<int>(std::clamp<int64_t>(left_ms, 0, INT32_MAX)));
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll pidfd");
    if (ready > 0) return Wait();
    if (ready == 0 && absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
  }
}

pid_t ChildProcess::Release() { return std::exchange(pid_, -1); }

}  // namespace berth
