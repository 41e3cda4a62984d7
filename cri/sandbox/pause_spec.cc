#include "cri/sandbox/pause_spec.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cri/sandbox/pod_user_namespace.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/status_macros.h"

namespace berth::cri {
namespace {

using runtime::v1::NamespaceMode;

enum class SysctlNamespace { kNone, kIpc, kNet, kUts };

SysctlNamespace NamespaceOfSysctl(const std::string& name) {
  static constexpr const char* kIpc[] = {"kernel.shm_rmid_forced", "kernel.shmmax", "kernel.shmall",
                                         "kernel.shmmni",          "kernel.msgmax", "kernel.msgmnb",
                                         "kernel.msgmni",          "kernel.sem"};
  if (std::find(std::begin(kIpc), std::end(kIpc), name) != std::end(kIpc) ||
      absl::StartsWith(name, "fs.mqueue.")) {
    return SysctlNamespace::kIpc;
  }
  if (absl::StartsWith(name, "net.")) return SysctlNamespace::kNet;
  if (name == "kernel.hostname" || name == "kernel.domainname") return SysctlNamespace::kUts;
  return SysctlNamespace::kNone;
}

// kubelet accepts both separators; with '/', dots inside a component (a
// VLAN interface "eth0.100") stay dots in the dotted form's component.
std::string DottedSysctl(const std::string& name) {
  if (name.find('/') == std::string::npos) return name;
  std::string dotted = name;
  for (char& c : dotted) c = c == '/' ? '.' : c == '.' ? '/' : c;
  return dotted;
}

const runtime::v1::NamespaceOption& Namespaces(const runtime::v1::PodSandboxConfig& config) {
  return config.linux().security_context().namespace_options();
}

// The default devices every container gets; everything else stays denied.
nlohmann::json DeviceRules() {
  nlohmann::json rules = {{{"allow", false}, {"access", "rwm"}}};
  const std::pair<int, int> kAllowed[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}};
  for (const auto& [major, minor] : kAllowed)
    rules.push_back(
        {{"allow", true}, {"type", "c"}, {"major", major}, {"minor", minor}, {"access", "rwm"}});
  rules.push_back(
      {{"allow", true}, {"type", "c"}, {"major", 136}, {"access", "rwm"}});  // /dev/pts/*
  return rules;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> PodSysctls(
    const runtime::v1::PodSandboxConfig& config) {
  std::map<std::string, std::string> sysctls;
  const runtime::v1::NamespaceOption& ns = Namespaces(config);
  for (const auto& [raw, value] : config.linux().sysctls()) {
    std::string name = DottedSysctl(raw);
    switch (NamespaceOfSysctl(name)) {
      case SysctlNamespace::kNone:
        return absl::InvalidArgumentError(
            absl::StrCat("sysctl ", raw, " is not namespaced: it would change the node"));
      case SysctlNamespace::kIpc:
        if (ns.ipc() == runtime::v1::NODE)
          return absl::InvalidArgumentError(
              absl::StrCat("sysctl ", raw, " needs the pod's own IPC namespace, not the host's"));
        break;
      case SysctlNamespace::kNet:
        if (ns.network() == runtime::v1::NODE)
          return absl::InvalidArgumentError(absl::StrCat(
              "sysctl ", raw, " needs the pod's own network namespace, not the host's"));
        break;
      case SysctlNamespace::kUts:
        if (ns.network() == runtime::v1::NODE)
          return absl::InvalidArgumentError(
              absl::StrCat("sysctl ", raw, " needs the pod's own UTS namespace"));
        break;
    }
    sysctls[name] = value;
  }
  return sysctls;
}

int LowestOomScoreAdj() {
  constexpr uint64_t kCapSysResource = uint64_t{1} << 24;
  std::string status = ReadFileToString("/proc/self/status").value_or("");
  uint64_t effective = 0;
  size_t at = status.find("CapEff:");
  if (at != std::string::npos) {
    std::string hex = status.substr(at + 7, status.find('\n', at) - at - 7);
    effective = std::strtoull(std::string(absl::StripAsciiWhitespace(hex)).c_str(), nullptr, 16);
  }
  if (effective & kCapSysResource) return -1000;
  int current = 0;
  std::string own = ReadFileToString("/proc/self/oom_score_adj").value_or("0");
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(own), &current)) current = 0;
  return current;
}

int PauseOomScoreAdj() { return std::max(-998, LowestOomScoreAdj()); }

std::string PodCgroupsPath(const std::string& cgroup_parent, const std::string& id, bool systemd) {
  if (systemd) {
    std::string slice = cgroup_parent.empty() ? "system.slice" : cgroup_parent;
    size_t slash = slice.rfind('/');
    if (slash != std::string::npos) slice = slice.substr(slash + 1);
    return absl::StrCat(slice, ":berth:", id);
  }
  std::string parent = cgroup_parent.empty() ? "/berth" : cgroup_parent;
  if (parent[0] != '/') parent = "/" + parent;
  if (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  return absl::StrCat(parent, "/", id);
}

absl::StatusOr<nlohmann::json> PauseSpec(const runtime::v1::PodSandboxConfig& config,
                                         const PauseSpecInputs& inputs) {
  const runtime::v1::NamespaceOption& ns = Namespaces(config);
  if (ns.pid() == runtime::v1::TARGET)
    return absl::InvalidArgumentError("pid namespace mode TARGET applies to containers, not pods");
  ASSIGN_OR_RETURN(std::optional<PodUserNamespace> userns, PodUserNamespaceOf(ns));
  absl::StatusOr<std::map<std::string, std::string>> sysctls = PodSysctls(config);
  if (!sysctls.ok()) return sysctls.status();

  nlohmann::json namespaces = nlohmann::json::array({{{"type", "mount"}}});
  bool host_network = ns.network() == runtime::v1::NODE;
  if (!host_network) {
    // No path: the pause makes one (a pod with a user namespace).
    namespaces.push_back(inputs.netns_path.empty()
                             ? nlohmann::json{{"type", "network"}}
                             : nlohmann::json{{"type", "network"}, {"path", inputs.netns_path}});
    namespaces.push_back({{"type", "uts"}});
  }
  if (ns.ipc() != runtime::v1::NODE) namespaces.push_back({{"type", "ipc"}});
  // POD: the pause is PID 1 of the pod's namespace; CONTAINER: each
  // container gets its own, the pause too; NODE: the host's.
  if (ns.pid() != runtime::v1::NODE) namespaces.push_back({{"type", "pid"}});
  // After the network namespace is joined, the pause makes the pod's user
  // namespace; its ipc, uts and pid namespaces belong to it.
  if (userns) namespaces.push_back({{"type", "user"}});

  nlohmann::json spec = {
      // 1.0.2: every runtime a handler may name (crun 1.8 refuses 1.2.0)
      // takes it, and nothing here needs a later version.
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 65535}, {"gid", 65535}}},
        {"args", {"/pause"}},
        {"env", {"PATH=/"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", nlohmann::json::array()},
          {"effective", nlohmann::json::array()},
          {"permitted", nlohmann::json::array()}}},
        {"noNewPrivileges", true},
        {"oomScoreAdj", inputs.oom_score_adj}}},
      {"root", {{"path", inputs.rootfs}, {"readonly", true}}},
      {"mounts",
       {{{"destination", "/proc"},
         {"type", "proc"},
         {"source", "proc"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}}}},
      {"linux",
       {{"namespaces", namespaces},
        {"cgroupsPath", inputs.cgroups_path},
        {"resources", {{"devices", DeviceRules()}}},
        {"maskedPaths",
         {"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}},
        {"readonlyPaths",
         {"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
          "/proc/sysrq-trigger"}}}}};
  if (inputs.image != nullptr) {
    nlohmann::json& process = spec["process"];
    process["args"] = inputs.image->args;
    process["env"] = inputs.image->env.empty() ? std::vector<std::string>{"PATH=/usr/bin:/bin"}
                                               : inputs.image->env;
    process["cwd"] = inputs.image->cwd;
    process["user"] = {{"uid", inputs.image->uid}, {"gid", inputs.image->gid}};
  }
  if (userns) {
    spec["linux"]["uidMappings"] = IdMappingsJson(userns->uids);
    spec["linux"]["gidMappings"] = IdMappingsJson(userns->gids);
    // 65535 where the pod's range has it (kubelet's ranges are 65536 long).
    nlohmann::json& user = spec["process"]["user"];
    if (!userns->uids.Contains(user["uid"].get<uint32_t>())) user["uid"] = 0;
    if (!userns->gids.Contains(user["gid"].get<uint32_t>())) user["gid"] = 0;
  }
  if (!host_network && !config.hostname().empty()) spec["hostname"] = config.hostname();
  if (!sysctls->empty()) spec["linux"]["sysctl"] = *sysctls;
  if (!config.annotations().empty()) {
    nlohmann::json annotations = nlohmann::json::object();
    for (const auto& [key, value] : config.annotations()) annotations[key] = value;
    spec["annotations"] = annotations;
  }
  return spec;
}

}  // namespace berth::cri
