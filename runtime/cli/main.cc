// berth-runtime: the in-tree OCI executor behind runc's command line, so
// tools written for runc (containerd shims, conmon, RuntimeClass handlers)
// can call it unchanged.

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "runtime/base/unique_fd.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/sealed_binary.h"

namespace berth::cli {
namespace {

constexpr char kUsage[] = R"(BERTH-RUNTIME(8)

NAME
    berth-runtime - berth's OCI runtime (runc's command line)

SYNOPSIS
    berth-runtime [GLOBAL FLAGS] COMMAND [FLAGS] ARGS
    berth-runtime --help | --version

DESCRIPTION
    Runs containers from OCI bundles (config.json and a rootfs), as runc
    does and with runc's commands and flags: namespaces (user namespaces
    with id maps and idmapped bind mounts), mounts made from file
    descriptors, cgroups v1 and v2, seccomp, capabilities, rlimits, hooks,
    a terminal over --console-socket. berthd drives it through
    berth-monitor; containerd, CRI-O and podman can use it as a runc.

COMMANDS
    create, start, run, state, kill, delete, list, ps, pause, resume,
    spec, features, exec, update (berth-runtime COMMAND --help)

GLOBAL FLAGS
    --root DIR             container state (default /run/berth-runtime)
    --log FILE             where errors go besides stderr
    --log-format text|json
    --systemd-cgroup       cgroupsPath is slice:prefix:name: the cgroup is
                           the transient scope prefix-name.scope that systemd
                           makes over D-Bus (DBUS_SYSTEM_BUS_ADDRESS)
    --debug

ENVIRONMENT
    DBUS_SYSTEM_BUS_ADDRESS  the system bus for --systemd-cgroup (default
                             unix:path=/run/dbus/system_bus_socket)

EXIT STATUS
    0 on success; 1 when the command fails (the reason on stderr);
    2 for bad usage; run and exec exit as the container's process did.

SEE ALSO
    berthd(8), berth-monitor(8), runc(8)
)";

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> commands = {
      {"create", CreateCommand}, {"start", StartCommand},  {"run", RunCommand},
      {"state", StateCommand},   {"kill", KillCommand},    {"delete", DeleteCommand},
      {"list", ListCommand},     {"ps", PsCommand},        {"pause", PauseCommand},
      {"resume", ResumeCommand}, {"spec", SpecCommand},    {"features", FeaturesCommand},
      {"exec", ExecCommand},     {"update", UpdateCommand}};
  return commands;
}

// Errors go to stderr and, when --log is given, to the log file in the
// format asked for: containerd's shim reads the last JSON line for the reason.
void ReportError(const std::string& log_path, const std::string& log_format,
                 const std::string& message) {
  std::fprintf(stderr, "berth-runtime: %s\n", message.c_str());
  if (log_path.empty()) return;
  UniqueFd fd(::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return;
  std::string time = absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone());
  std::string line =
      log_format == "json"
          ? nlohmann::json{{"level", "error"}, {"msg", message}, {"time", time}}.dump() + "\n"
          : absl::StrCat("time=\"", time, "\" level=error msg=\"", message, "\"\n");
  (void)::write(fd.get(), line.data(), line.size());
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  RuntimeOptions runtime;
  std::string log_path, log_format = "text";
  size_t i = 0;
  // Global flags come before the command.
  for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
    std::string flag = args[i];
    std::string value;
    if (size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    auto take_value = [&]() -> std::string {
      if (!value.empty()) return value;
      return i + 1 < args.size() ? args[++i] : "";
    };
    if (flag == "--root") {
      runtime.root = take_value();
    } else if (flag == "--log") {
      log_path = take_value();
    } else if (flag == "--log-format") {
      log_format = take_value();
    } else if (flag == "--systemd-cgroup") {
      runtime.systemd_cgroup = true;
    } else if (flag == "--debug" || flag == "--rootless") {
      // accepted for compatibility
    } else if (flag == "--criu") {
      take_value();
    } else if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (flag == "--version" || flag == "-v") {
      std::printf("berth-runtime version 0.1.0\nspec: 1.2.0\n");
      return 0;
    } else {
      ReportError(log_path, log_format, "unknown global flag " + flag);
      return 2;
    }
  }
  if (i == args.size()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto command = Commands().find(args[i]);
  if (command == Commands().end()) {
    ReportError(log_path, log_format, absl::StrCat("unknown command \"", args[i], "\""));
    return 2;
  }
  // These run our code inside the container until its program is exec'd.
  if (args[i] == "create" || args[i] == "run" || args[i] == "exec") {
    absl::Status sealed = ReexecFromSealedBinary(argv);  // returns only when sealed or failed
    if (!sealed.ok()) {
      ReportError(log_path, log_format, std::string(sealed.message()));
      return 1;
    }
  }
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  absl::StatusOr<int> result = command->second(runtime, rest);
  if (!result.ok()) {
    // As runc: a failed exec is exit 255 with "exec failed: ", which is how
    // callers tell it from the exec'd program's own exit code.
    bool exec = args[i] == "exec";
    ReportError(log_path, log_format,
                absl::StrCat(exec ? "exec failed: " : "", result.status().message()));
    return exec ? 255 : 1;
  }
  return *result;
}

}  // namespace
}  // namespace berth::cli

int main(int argc, char** argv) { return berth::cli::Main(argc, argv); }
