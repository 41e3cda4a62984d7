#pragma once

// The last steps before a container process runs user code, shared by the
// container's init and by exec'd processes: identity, capabilities,
// no_new_privs, seccomp, working directory, and the program lookup.

#include <string>

#include "absl/status/statusor.h"
#include "runtime/oci/spec.h"
#include "runtime/procfs.h"

namespace berth {

// Writes /proc/self/oom_score_adj. Without CAP_SYS_RESOURCE the kernel
// refuses values below the current one: those are clamped to the current
// value with a warning on stderr (once per process), as containerd's
// restrict_oom_score_adj does.
absl::Status ApplyOomScoreAdj(const ProcFs& proc, int value);

// Asks for process.apparmorProfile and process.selinuxLabel on exec. Where
// the host's kernel does not run that LSM, the label cannot be enforced: a
// warning goes to stderr (and UnenforcedLabels says so to whoever reports
// the container's status) rather than failing, as runc does.
absl::Status ApplySecurityLabels(const ProcFs& proc, const oci::Process& process);

// Switches uid/gid/groups and applies capabilities, umask, no_new_privs and
// cwd (checked to lie inside the container root, before any seccomp filter
// is loaded: the user's profile may refuse getcwd). Loads the seccomp filter
// here when no_new_privs is off, since that needs CAP_SYS_ADMIN, which the
// capability change may drop; otherwise LoadLateSeccomp does it after.
absl::Status FinalizeProcess(const oci::Process& process, const oci::Seccomp* seccomp);

// Loads the seccomp filter as the last step before exec when no_new_privs is on.
absl::Status LoadLateSeccomp(const oci::Process& process, const oci::Seccomp* seccomp);

// Resolves args[0] through the PATH of `env` (or the default PATH), as the
// container will see it. NotFound names the program.
absl::StatusOr<std::string> FindExecutable(const oci::Process& process);

// Replaces this process with `program`, given process.args and process.env,
// after restoring default signal handling. Returns only on failure.
absl::Status ExecProgram(const std::string& program, const oci::Process& process);

// Marks every fd from `first` up close-on-exec, so nothing of the runtime
// leaks into the container; fds still needed until exec (the sync socket
// that reports an exec failure) keep working until then. Call it before the
// user's seccomp filter: where close_range is refused it walks <pid>/fd.
absl::Status CloseFdsOnExecFrom(const ProcFs& proc, int first);

}  // namespace berth
