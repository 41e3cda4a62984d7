// exec: run a process in a running container, with runc's flags.

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/status_macros.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/container_exec.h"
#include "runtime/oci/capability_names.h"
#include "runtime/oci/spec_parse.h"

namespace berth::cli {
namespace {

const std::vector<FlagSpec> kExecFlags = {{"process", "p", true},
                                          {"tty", "t", false},
                                          {"detach", "d", false},
                                          {"pid-file", "", true},
                                          {"console-socket", "", true},
                                          {"cwd", "", true},
                                          {"env", "e", true},
                                          {"user", "u", true},
                                          {"cap", "c", true},
                                          {"no-new-privs", "", false},
                                          {"additional-gids", "g", true},
                                          {"preserve-fds", "", true},
                                          {"process-label", "", true},
                                          {"apparmor", "", true},
                                          {"ignore-paused", "", false},
                                          {"cgroup", "", true}};

// Sets NAME=value in `env`, replacing an earlier NAME.
void SetEnv(std::vector<std::string>& env, const std::string& entry) {
  std::string name = entry.substr(0, entry.find('='));
  for (std::string& existing : env) {
    if (existing.substr(0, existing.find('=')) == name) {
      existing = entry;
      return;
    }
  }
  env.push_back(entry);
}

// The process from the container's own, with the command line's changes.
absl::StatusOr<oci::Process> ProcessFromFlags(const RuntimeOptions& runtime, const std::string& id,
                                              const Args& args) {
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, id));
  ASSIGN_OR_RETURN(oci::Spec spec, LoadContainerSpec(StateDir(runtime.root, id), info.state));
  oci::Process process = spec.process.value_or(oci::Process{});
  process.args.assign(args.positional().begin() + 1, args.positional().end());
  if (process.args.empty()) return absl::InvalidArgumentError("exec: no command given");
  process.terminal = args.Has("tty");
  process.console_size.reset();
  if (args.Has("cwd")) process.cwd = args.Get("cwd");
  for (const std::string& entry : args.GetAll("env")) {
    if (entry.find('=') == std::string::npos)
      return absl::InvalidArgumentError("--env must be NAME=value: " + entry);
    SetEnv(process.env, entry);
  }
  if (args.Has("user")) {
    std::vector<std::string> ids = absl::StrSplit(args.Get("user"), ':');
    if (ids.size() > 2 || !absl::SimpleAtoi(ids[0], &process.user.uid) ||
        (ids.size() == 2 && !absl::SimpleAtoi(ids[1], &process.user.gid))) {
      return absl::InvalidArgumentError("--user must be UID[:GID]");
    }
    if (ids.size() == 1) process.user.gid = 0;
  }
  for (const std::string& gid_text : args.GetAll("additional-gids")) {
    gid_t gid;
    if (!absl::SimpleAtoi(gid_text, &gid))
      return absl::InvalidArgumentError("--additional-gids must be numbers");
    process.user.additional_gids.push_back(gid);
  }
  for (const std::string& cap : args.GetAll("cap")) {
    if (!oci::CapabilityFromName(cap).has_value())
      return absl::InvalidArgumentError("--cap: unknown capability " + cap);
    if (!process.capabilities) process.capabilities.emplace();
    for (auto* set : {&process.capabilities->bounding, &process.capabilities->effective,
                      &process.capabilities->permitted}) {
      set->push_back(cap);
    }
  }
  if (args.Has("no-new-privs")) process.no_new_privileges = true;
  return process;
}

}  // namespace

absl::StatusOr<int> ExecCommand(const RuntimeOptions& runtime,
                                const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, kExecFlags, /*flag_positionals=*/1));
  if (args.positional().empty()) return absl::InvalidArgumentError("exec: expects a container id");
  const std::string& id = args.positional()[0];
  ExecOptions options{.detach = args.Has("detach"),
                      .pid_file = args.Get("pid-file"),
                      .console_socket = args.Get("console-socket")};
  if (args.Has("preserve-fds") &&
      !absl::SimpleAtoi(args.Get("preserve-fds"), &options.preserve_fds)) {
    return absl::InvalidArgumentError("--preserve-fds must be a number");
  }
  if (args.Has("process")) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(args.Get("process")));
    ASSIGN_OR_RETURN(options.process, oci::ParseProcessJson(text));
  } else {
    ASSIGN_OR_RETURN(options.process, ProcessFromFlags(runtime, id, args));
  }
  return ExecInContainer(runtime, id, options);
}

}  // namespace berth::cli
