#include "runtime/monitor/external_runtime.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/child_process.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/json_reader.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth {
namespace {

// kubelet gives up on a CRI call after 2 minutes (--runtime-request-timeout):
// a runtime hung longer (a stuck hook) is killed rather than holding the
// monitor, and its caller, forever.
constexpr absl::Duration kCommandTimeout = absl::Minutes(2);

size_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

}  // namespace

std::string LastRuntimeError(absl::string_view log) {
  std::string error, last_line;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipWhitespace())) {
    last_line = std::string(absl::StripAsciiWhitespace(line));
    absl::StatusOr<nlohmann::json> entry = ParseJson(line, "runtime log line");
    if (!entry.ok() || !entry->is_object()) continue;
    auto level = entry->find("level");
    auto msg = entry->find("msg");
    if (level == entry->end() || msg == entry->end() || !msg->is_string()) continue;
    if (*level == "error" || *level == "fatal") error = msg->get<std::string>();
  }
  return error.empty() ? last_line : error;
}

absl::StatusOr<std::string> MemoryCgroupPath(absl::string_view proc_pid_cgroup) {
  std::string unified;
  for (absl::string_view line : absl::StrSplit(proc_pid_cgroup, '\n', absl::SkipEmpty())) {
    // hierarchy-ID:controller-list:path; the path may itself hold colons.
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    if (fields[0] == "0" && fields[1].empty()) {
      unified = std::string(fields[2]);
      continue;
    }
    for (absl::string_view controller : absl::StrSplit(fields[1], ','))
      if (controller == "memory") return std::string(fields[2]);
  }
  if (unified.empty())
    return absl::NotFoundError("no memory or unified cgroup in /proc/PID/cgroup");
  return unified;
}

absl::Status ExternalRuntime::Run(const std::vector<std::string>& args,
                                  const SpawnOptions& options) {
  // Its messages go to a log, not to its stderr: for create that is the
  // container's, and a warning there would land in the CRI log.
  std::vector<std::string> argv = {config_.runtime_binary, "--root", config_.runtime_root,
                                   absl::StrCat("--log=", config_.runtime_log()),
                                   "--log-format=json"};
  if (config_.systemd_cgroup) argv.push_back("--systemd-cgroup");
  argv.insert(argv.end(), args.begin(), args.end());
  // The log keeps every command's lines; this command's error is after here.
  size_t log_start = FileSize(config_.runtime_log());
  std::string what = absl::StrCat(config_.runtime_binary, " ", args.front(), " ", config_.id);
  ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(argv, options));
  absl::StatusOr<ExitStatus> exit = child.WaitFor(kCommandTimeout);
  if (!exit.ok()) {  // the child is killed and reaped as it goes out of scope
    return absl::Status(exit.status().code(), absl::StrCat(what, ": ", exit.status().message()));
  }
  if (!exit->signaled && exit->exit_code == 0) return absl::OkStatus();
  std::string log = ReadFileToString(config_.runtime_log()).value_or("");
  std::string why =
      LastRuntimeError(absl::string_view(log).substr(std::min(log_start, log.size())));
  if (why.empty()) why = exit->ToString();
  // The runtime's errors have no kind we could trust: containerd reports them as Unknown too.
  return absl::UnknownError(absl::StrCat(what, ": ", why));
}

absl::StatusOr<CreatedContainer> ExternalRuntime::Create(const ContainerStdio& stdio) {
  // A pid file left from an earlier attempt must not pass for this init's.
  if (::unlink(config_.init_pid_file().c_str()) != 0 && errno != ENOENT)
    return ErrnoStatus("remove " + config_.init_pid_file());
  std::vector<std::string> args = {"create", "--bundle", config_.bundle, "--pid-file",
                                   config_.init_pid_file()};
  if (config_.tty) {
    args.push_back("--console-socket");
    args.push_back(config_.console_socket());
  }
  args.push_back(config_.id);
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null) return ErrnoStatus("open /dev/null");
  auto or_null = [&](int fd) { return fd >= 0 ? fd : null.get(); };
  // A detached container without a terminal inherits the runtime's fds 0-2.
  SpawnOptions options{
      .stdin_fd = or_null(stdio.in),
      .extra_fds = {{or_null(stdio.out), STDOUT_FILENO}, {or_null(stdio.err), STDERR_FILENO}}};
  absl::Status created = Run(args, options);
  absl::StatusOr<CreatedContainer> container = created.ok() ? Inspect() : created;
  // A runtime that failed or was killed midway may have left state or an init behind.
  if (!container.ok()) (void)ForceDelete();
  return container;
}

absl::StatusOr<CreatedContainer> ExternalRuntime::Inspect() {
  ASSIGN_OR_RETURN(std::string pid_text, ReadFileToString(config_.init_pid_file()));
  CreatedContainer container;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(pid_text), &container.init_pid) ||
      container.init_pid <= 0) {
    return absl::InternalError(absl::StrCat(config_.runtime_binary, " wrote no pid to ",
                                            config_.init_pid_file(), ": \"", pid_text, "\""));
  }
  // `state` of runc and crun does not name the cgroup; the init's /proc
  // entry does, as our cgroup namespace sees it, which is how we mount it.
  std::string proc = absl::StrCat("/proc/", container.init_pid, "/cgroup");
  ASSIGN_OR_RETURN(std::string cgroups, ReadFileToString(proc));
  absl::StatusOr<std::string> path = MemoryCgroupPath(cgroups);
  if (!path.ok())
    return absl::Status(path.status().code(), absl::StrCat(proc, ": ", path.status().message()));
  container.cgroup_path = *std::move(path);
  return container;
}

absl::Status ExternalRuntime::Start() { return Run({"start", config_.id}, {}); }

absl::Status ExternalRuntime::ForceDelete() { return Run({"delete", "--force", config_.id}, {}); }

}  // namespace berth
