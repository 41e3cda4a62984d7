#include "runtime/hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth {

absl::Status RunHooks(const std::vector<oci::Hook>& hooks, const std::string& kind,
                      const std::string& state_json) {
  for (const oci::Hook& hook : hooks) {
    std::string what = absl::StrCat(kind, " hook ", hook.path);
    // The state goes through a pipe; it is small enough to fit its buffer, so
    // writing it all before the hook runs cannot block.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe for " + what);
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    if (::write(write_end.get(), state_json.data(), state_json.size()) < 0)
      return ErrnoStatus("write state to " + what);
    write_end.Reset();
    std::vector<std::string> argv = hook.args;
    if (argv.empty()) argv.push_back(hook.path);
    std::string program = hook.path;
    argv[0] = program;  // posix_spawn takes the path from argv[0]
    SpawnOptions options{.env = hook.env, .stdin_fd = read_end.get()};
    ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(argv, options));
    absl::StatusOr<ExitStatus> exit = hook.timeout_seconds.has_value()
                                          ? child.WaitFor(absl::Seconds(*hook.timeout_seconds))
                                          : child.Wait();
    if (absl::IsDeadlineExceeded(exit.status())) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, " timed out after ", *hook.timeout_seconds, "s"));
    }
    if (!exit.ok()) return exit.status();
    if (exit->ShellCode() != 0) {
      return absl::FailedPreconditionError(absl::StrCat(what, " failed: ", exit->ToString()));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth
