// state, list, ps, features.

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "runtime/base/atomic_file.h"
#include "runtime/base/status_macros.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/oci/capability_names.h"
#include "runtime/oci/namespaces.h"

namespace berth::cli {
namespace {

// The spec's namespace types, sorted, as runc's features lists them.
std::vector<std::string> SortedNamespaceTypes() {
  std::vector<std::string> types;
  for (const oci::NamespaceKind& kind : oci::kNamespaceKinds) types.push_back(kind.type);
  std::sort(types.begin(), types.end());
  return types;
}

}  // namespace

absl::StatusOr<int> StateCommand(const RuntimeOptions& runtime,
                                 const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {}));
  if (args.positional().size() != 1)
    return absl::InvalidArgumentError("state: expects exactly one container id");
  ASSIGN_OR_RETURN(ContainerInfo info, InspectContainer(runtime, args.positional()[0]));
  std::printf("%s\n", OciStateJson(info.state, info.status, /*pretty=*/true).c_str());
  return 0;
}

absl::StatusOr<int> ListCommand(const RuntimeOptions& runtime,
                                const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {{"format", "f", true}, {"quiet", "q", false}}));
  ASSIGN_OR_RETURN(std::vector<ContainerInfo> containers, ListContainers(runtime));
  if (args.Has("quiet")) {
    for (const ContainerInfo& c : containers) std::printf("%s\n", c.state.id.c_str());
    return 0;
  }
  std::string format = args.Get("format", "table");
  if (format == "json") {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const ContainerInfo& c : containers) {
      list.push_back({{"ociVersion", "1.2.0"},
                      {"id", c.state.id},
                      {"pid", c.status == ContainerStatus::kStopped ? 0 : c.state.pid},
                      {"status", StatusName(c.status)},
                      {"bundle", c.state.bundle},
                      {"rootfs", c.state.rootfs},
                      {"created", c.state.created},
                      {"owner", ""}});
    }
    // runc prints null for no containers; go-runc and others accept it.
    std::printf("%s\n", list.empty() ? "null" : list.dump().c_str());
    return 0;
  }
  if (format != "table") return absl::InvalidArgumentError("list: --format must be table or json");
  std::printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
              "OWNER");
  for (const ContainerInfo& c : containers) {
    std::printf("%-12s %-8d %-10s %-40s %-30s %s\n", c.state.id.c_str(),
                c.status == ContainerStatus::kStopped ? 0 : c.state.pid, StatusName(c.status),
                c.state.bundle.c_str(), c.state.created.c_str(), "root");
  }
  return 0;
}

absl::StatusOr<int> PsCommand(const RuntimeOptions& runtime, const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {{"format", "f", true}}));
  if (args.positional().empty()) return absl::InvalidArgumentError("ps: expects a container id");
  ASSIGN_OR_RETURN(std::vector<pid_t> pids, ContainerPids(runtime, args.positional()[0]));
  std::string format = args.Get("format", "table");
  if (format == "json") {
    std::printf("%s\n", nlohmann::json(pids).dump().c_str());
    return 0;
  }
  if (format != "table") return absl::InvalidArgumentError("ps: --format must be table or json");
  std::printf("%-8s %s\n", "PID", "CMD");
  for (pid_t pid : pids) {
    absl::StatusOr<std::string> cmdline = ReadFileToString(absl::StrCat("/proc/", pid, "/cmdline"));
    std::string command = cmdline.ok() ? *cmdline : "";
    for (char& c : command) c = c == '\0' ? ' ' : c;
    std::printf("%-8d %s\n", pid, command.c_str());
  }
  return 0;
}

absl::StatusOr<int> FeaturesCommand(const RuntimeOptions&, const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {}));
  nlohmann::ordered_json features = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.2.0"},
      {"hooks",
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async",       "atime",       "bind",   "defaults",    "dev",           "diratime",
        "dirsync",     "exec",        "loud",   "mand",        "noatime",       "nodev",
        "nodiratime",  "noexec",      "nomand", "norelatime",  "nostrictatime", "nosuid",
        "private",     "rbind",       "rdev",   "rdiratime",   "relatime",      "remount",
        "rexec",       "rnoatime",    "rnodev", "rnodiratime", "rnoexec",       "rnosuid",
        "ro",          "rprivate",    "rro",    "rrw",         "rshared",       "rslave",
        "rsuid",       "runbindable", "rw",     "shared",      "silent",        "slave",
        "strictatime", "suid",        "sync",   "unbindable"}},
      {"linux",
       {{"namespaces", SortedNamespaceTypes()},
        {"capabilities", oci::KnownCapabilities()},
        {"cgroup",
         {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs",
           {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86",
            "SCMP_ARCH_X86_64"}},
          {"knownFlags",
           {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_TSYNC"}},
          {"supportedFlags",
           {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_TSYNC"}}}},
        // Profiles are applied where the host runs AppArmor. SELinux: the
        // process label is, but not linux.mountLabel, so not claimed.
        {"apparmor", {{"enabled", true}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
      {"annotations", {{"io.github.berth.runtime", "berth-runtime"}}}};
  std::printf("%s\n", features.dump(4).c_str());
  return 0;
}

}  // namespace berth::cli
