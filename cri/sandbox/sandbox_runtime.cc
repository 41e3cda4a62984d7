// Which runtime a sandbox's containers belong to, and killing and deleting
// them through it: the in-tree executor library for the default handler,
// the runtime's runc-style CLI for a configured RuntimeClass handler.

#include <signal.h>
#include <sys/mount.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "cri/sandbox/sandbox_service.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {

absl::Status RunExternalRuntime(const ExternalRuntime& runtime, std::vector<std::string> args) {
  std::vector<std::string> argv = {runtime.binary, "--root", runtime.root};
  argv.insert(argv.end(), args.begin(), args.end());
  ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(argv, {}));
  ASSIGN_OR_RETURN(ExitStatus exit, child.WaitFor(absl::Seconds(30)));
  if (exit.ShellCode() != 0) {
    return absl::InternalError(
        absl::StrCat(runtime.binary, " ", args[0], " failed: ", exit.ToString()));
  }
  return absl::OkStatus();
}

std::vector<std::string> SandboxService::HandlerNames() const { return handlers_.Names(); }

std::optional<ExternalRuntime> SandboxService::ExternalRuntimeOf(const Sandbox& sandbox) const {
  return handlers_.Find(sandbox.runtime_handler);
}

absl::Status SandboxService::KillContainerOf(const Sandbox& sandbox) {
  if (std::optional<ExternalRuntime> runtime = ExternalRuntimeOf(sandbox)) {
    // Failing for a container already gone is fine: the exit is awaited next.
    (void)RunExternalRuntime(*runtime, {"kill", "--all", sandbox.id, "KILL"});
    return absl::OkStatus();
  }
  absl::Status killed = KillContainer(ExecutorOptions(), sandbox.id, SIGKILL, /*all=*/true);
  if (!killed.ok() && !absl::IsNotFound(killed) && !absl::IsFailedPrecondition(killed))
    return killed;
  return absl::OkStatus();
}

absl::Status SandboxService::ReleaseRootfs(Sandbox& sandbox) {
  if (sandbox.rootfs_view.empty()) return absl::OkStatus();
  if (::umount2(sandbox.rootfs().c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return ErrnoStatus("unmount " + sandbox.rootfs());
  if (options_.images != nullptr) RETURN_IF_ERROR(options_.images->RemoveView(sandbox.rootfs_view));
  sandbox.rootfs_view.clear();
  return absl::OkStatus();
}

absl::Status SandboxService::DeleteContainerOf(const Sandbox& sandbox) {
  if (std::optional<ExternalRuntime> runtime = ExternalRuntimeOf(sandbox)) {
    // runc and crun answer "does not exist" with an error for delete --force
    // of an unknown id; a container already deleted is the goal anyway.
    (void)RunExternalRuntime(*runtime, {"delete", "--force", sandbox.id});
    return absl::OkStatus();
  }
  absl::Status deleted = DeleteContainer(ExecutorOptions(), sandbox.id, /*force=*/true);
  if (!deleted.ok() && !absl::IsNotFound(deleted)) return deleted;
  return absl::OkStatus();
}

}  // namespace berth::cri
