// create, start, run, kill, delete, pause, resume.

#include <signal.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/base/status_macros.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"

namespace berth::cli {
namespace {

const std::vector<FlagSpec> kCreateFlags = {{"bundle", "b", true},   {"console-socket", "", true},
                                            {"pid-file", "", true},  {"preserve-fds", "", true},
                                            {"no-pivot", "", false}, {"no-new-keyring", "", false},
                                            {"detach", "d", false},  {"keep", "", false}};

absl::StatusOr<std::string> OneId(const Args& args, const char* command) {
  if (args.positional().size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(command, ": expects exactly one container id"));
  }
  return args.positional()[0];
}

absl::StatusOr<CreateOptions> CreateOptionsFrom(const Args& args) {
  if (args.Has("no-pivot")) {
    return absl::UnimplementedError(
        "--no-pivot is not supported: berth-runtime always uses pivot_root");
  }
  CreateOptions options{.bundle = args.Get("bundle", "."),
                        .console_socket = args.Get("console-socket"),
                        .pid_file = args.Get("pid-file")};
  if (options.bundle.empty() || options.bundle[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return absl::InternalError("getcwd failed");
    options.bundle = options.bundle == "." ? cwd : absl::StrCat(cwd, "/", options.bundle);
  }
  if (!options.pid_file.empty() && options.pid_file[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) != nullptr)
      options.pid_file = absl::StrCat(cwd, "/", options.pid_file);
  }
  if (args.Has("preserve-fds") &&
      !absl::SimpleAtoi(args.Get("preserve-fds"), &options.preserve_fds)) {
    return absl::InvalidArgumentError("--preserve-fds must be a number");
  }
  return options;
}

}  // namespace

absl::StatusOr<int> ParseSignal(const std::string& text) {
  int number;
  if (absl::SimpleAtoi(text, &number)) {
    if (number <= 0 || number >= NSIG) return absl::InvalidArgumentError("invalid signal " + text);
    return number;
  }
  std::string name(absl::StripPrefix(text, "SIG"));
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) return sig;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown signal \"", text, "\""));
}

absl::StatusOr<int> CreateCommand(const RuntimeOptions& runtime,
                                  const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, kCreateFlags));
  ASSIGN_OR_RETURN(std::string id, OneId(args, "create"));
  ASSIGN_OR_RETURN(CreateOptions options, CreateOptionsFrom(args));
  RETURN_IF_ERROR(CreateContainer(runtime, id, options));
  return 0;
}

absl::StatusOr<int> StartCommand(const RuntimeOptions& runtime,
                                 const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {}));
  ASSIGN_OR_RETURN(std::string id, OneId(args, "start"));
  RETURN_IF_ERROR(StartContainer(runtime, id));
  return 0;
}

absl::StatusOr<int> RunCommand(const RuntimeOptions& runtime,
                               const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, kCreateFlags));
  ASSIGN_OR_RETURN(std::string id, OneId(args, "run"));
  ASSIGN_OR_RETURN(CreateOptions options, CreateOptionsFrom(args));
  return RunContainer(runtime, id, options, args.Has("detach"));
}

absl::StatusOr<int> KillCommand(const RuntimeOptions& runtime,
                                const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {{"all", "a", false}}));
  const auto& positional = args.positional();
  if (positional.empty() || positional.size() > 2) {
    return absl::InvalidArgumentError("kill: expects a container id and an optional signal");
  }
  int signal = SIGTERM;
  if (positional.size() == 2) {
    ASSIGN_OR_RETURN(signal, ParseSignal(positional[1]));
  }
  RETURN_IF_ERROR(KillContainer(runtime, positional[0], signal, args.Has("all")));
  return 0;
}

absl::StatusOr<int> DeleteCommand(const RuntimeOptions& runtime,
                                  const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {{"force", "f", false}}));
  ASSIGN_OR_RETURN(std::string id, OneId(args, "delete"));
  RETURN_IF_ERROR(DeleteContainer(runtime, id, args.Has("force")));
  return 0;
}

absl::StatusOr<int> PauseCommand(const RuntimeOptions& runtime,
                                 const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {}));
  ASSIGN_OR_RETURN(std::string id, OneId(args, "pause"));
  RETURN_IF_ERROR(PauseContainer(runtime, id));
  return 0;
}

absl::StatusOr<int> ResumeCommand(const RuntimeOptions& runtime,
                                  const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {}));
  ASSIGN_OR_RETURN(std::string id, OneId(args, "resume"));
  RETURN_IF_ERROR(ResumeContainer(runtime, id));
  return 0;
}

}  // namespace berth::cli
