#include "cri/container/container_spec.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cri/sandbox/pause_spec.h"
#include "cri/sandbox/pod_user_namespace.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/json_reader.h"
#include "runtime/base/status_macros.h"
#include "runtime/oci/capability_names.h"

namespace berth::cri {
namespace {

using runtime::v1::NamespaceMode;

constexpr char kDefaultPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::vector<std::string> StringArray(const nlohmann::json& object, const char* key) {
  std::vector<std::string> values;
  if (object.contains(key) && object[key].is_array())
    for (const nlohmann::json& value : object[key])
      if (value.is_string()) values.push_back(value);
  return values;
}

std::string NormalizeCapability(const std::string& name) {
  std::string upper = absl::AsciiStrToUpper(name);
  return absl::StartsWith(upper, "CAP_") || upper == "ALL" ? upper : "CAP_" + upper;
}

// Capabilities a container can get: those the kernel knows and berthd
// holds itself (a bounding set naming more makes capset fail: root on some
// hosts lacks CAP_SYS_RESOURCE), as containerd's "all current capabilities".
std::vector<std::string> HostCapabilities() {
  uint64_t bounding = ~uint64_t{0};
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "CapEff:")) {
      bounding = std::strtoull(line.substr(7).c_str(), nullptr, 16);
      break;
    }
  }
  std::vector<std::string> held;
  for (const std::string& name : oci::KnownCapabilities()) {
    std::optional<int> number = oci::CapabilityFromName(name);
    if (number && *number < 64 && (bounding >> *number) & 1) held.push_back(name);
  }
  return held;
}

// The optional fields of the mount holding `path` in /proc/self/mountinfo
// ("shared:1 master:2"): how the host propagates mounts below it.
absl::StatusOr<std::string> PropagationOf(const std::string& path) {
  std::error_code error;
  std::string resolved = std::filesystem::canonical(path, error).string();
  if (error) return absl::InvalidArgumentError(absl::StrCat("resolve ", path, ": ", error.message()));
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line, best_point, best_fields;
  while (std::getline(mountinfo, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 7) continue;
    const std::string& point = fields[4];
    bool contains = point == "/" || resolved == point || absl::StartsWith(resolved, point + "/");
    if (!contains || point.size() < best_point.size()) continue;
    best_point = point;
    best_fields.clear();
    for (size_t i = 6; i < fields.size() && fields[i] != "-"; ++i)
      absl::StrAppend(&best_fields, fields[i], " ");
  }
  return best_fields;
}

absl::Status CheckPropagation(const runtime::v1::Mount& mount) {
  if (mount.propagation() == runtime::v1::PROPAGATION_PRIVATE) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string fields, PropagationOf(mount.host_path()));
  bool shared = absl::StrContains(fields, "shared:");
  bool slave = absl::StrContains(fields, "master:");
  if (mount.propagation() == runtime::v1::PROPAGATION_BIDIRECTIONAL && !shared) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bidirectional propagation for ", mount.host_path(), " needs a shared host mount"));
  }
  if (mount.propagation() == runtime::v1::PROPAGATION_HOST_TO_CONTAINER && !shared && !slave) {
    return absl::InvalidArgumentError(absl::StrCat("host-to-container propagation for ",
                                                   mount.host_path(),
                                                   " needs a shared or slave host mount"));
  }
  return absl::OkStatus();
}

nlohmann::json BindMount(const std::string& destination, const std::string& source,
                         bool readonly, const std::string& propagation = "rprivate") {
  nlohmann::json options = {"rbind", propagation, readonly ? "ro" : "rw"};
  return {{"destination", destination}, {"type", "bind"}, {"source", source}, {"options", options}};
}

size_t Depth(const std::string& path) {
  return std::count(path.begin(), path.end(), '/') - (path.size() > 1 && path.back() == '/');
}

struct HostDevice {
  std::string path;
  char type;
  int64_t major, minor;
  mode_t mode;
  uid_t uid;
  gid_t gid;
};

absl::StatusOr<HostDevice> StatDevice(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat device " + path);
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
    return absl::InvalidArgumentError(path + " is not a device");
  return HostDevice{.path = path,
                    .type = S_ISCHR(st.st_mode) ? 'c' : 'b',
                    .major = major(st.st_rdev),
                    .minor = minor(st.st_rdev),
                    .mode = st.st_mode & 07777,
                    .uid = st.st_uid,
                    .gid = st.st_gid};
}

// The devices under a host directory, as runc's HostDevices finds them:
// pseudo-terminals, shm, mqueue and console are the container's own.
void CollectDevices(const std::string& dir, std::vector<HostDevice>& devices) {
  static const std::set<std::string> kSkipped = {"pts", "shm", "fd", "mqueue", ".lxc",
                                                 ".lxd-mounts", ".udev", "console"};
  std::unique_ptr<DIR, int (*)(DIR*)> stream(::opendir(dir.c_str()), ::closedir);
  if (stream == nullptr) return;
  while (dirent* entry = ::readdir(stream.get())) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || kSkipped.count(name)) continue;
    std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      CollectDevices(path, devices);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      if (absl::StatusOr<HostDevice> device = StatDevice(path); device.ok())
        devices.push_back(*device);
    }
  }
}

nlohmann::json DeviceJson(const HostDevice& device, const std::string& container_path) {
  return {{"path", container_path},     {"type", std::string(1, device.type)},
          {"major", device.major},      {"minor", device.minor},
          {"fileMode", device.mode},    {"uid", device.uid},
          {"gid", device.gid}};
}

nlohmann::json DeviceRule(const HostDevice& device, const std::string& access) {
  return {{"allow", true},
          {"type", std::string(1, device.type)},
          {"major", device.major},
          {"minor", device.minor},
          {"access", access}};
}

// The default device rules every container gets; everything else is denied.
nlohmann::json DefaultDeviceRules() {
  nlohmann::json rules = {{{"allow", false}, {"access", "rwm"}}};
  const std::pair<int, int> kAllowed[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1},
                                          {5, 2}, {10, 200}};
  for (const auto& [major, minor] : kAllowed)
    rules.push_back(
        {{"allow", true}, {"type", "c"}, {"major", major}, {"minor", minor}, {"access", "rwm"}});
  rules.push_back({{"allow", true}, {"type", "c"}, {"major", 136}, {"access", "rwm"}});
  return rules;
}

const std::vector<std::string>& DefaultMaskedPaths() {
  static const std::vector<std::string> kPaths = {
      "/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/proc/scsi",          "/sys/firmware",    "/sys/devices/virtual/powercap"};
  return kPaths;
}

const std::vector<std::string>& DefaultReadonlyPaths() {
  static const std::vector<std::string> kPaths = {"/proc/bus", "/proc/fs", "/proc/irq",
                                                  "/proc/sys", "/proc/sysrq-trigger"};
  return kPaths;
}

}  // namespace

absl::StatusOr<ImageRunConfig> ParseImageRunConfig(const std::string& config_json) {
  ASSIGN_OR_RETURN(nlohmann::json config, ParseJson(config_json, "image config"));
  ImageRunConfig run;
  if (!config.is_object()) return run;
  const nlohmann::json section = config.value("config", nlohmann::json::object());
  if (!section.is_object()) return run;
  run.entrypoint = StringArray(section, "Entrypoint");
  run.cmd = StringArray(section, "Cmd");
  run.env = StringArray(section, "Env");
  if (section.contains("WorkingDir") && section["WorkingDir"].is_string())
    run.working_dir = section["WorkingDir"];
  if (section.contains("User") && section["User"].is_string()) run.user = section["User"];
  if (section.contains("StopSignal") && section["StopSignal"].is_string())
    run.stop_signal = section["StopSignal"];
  if (section.contains("Volumes") && section["Volumes"].is_object())
    for (const auto& [path, ignored] : section["Volumes"].items()) run.volumes.push_back(path);
  return run;
}

absl::StatusOr<std::vector<std::string>> ProcessArgs(const runtime::v1::ContainerConfig& config,
                                                     const ImageRunConfig& image) {
  std::vector<std::string> args;
  if (!config.command().empty()) {
    args.assign(config.command().begin(), config.command().end());
    args.insert(args.end(), config.args().begin(), config.args().end());
  } else {
    args = image.entrypoint;
    if (!config.args().empty())
      args.insert(args.end(), config.args().begin(), config.args().end());
    else
      args.insert(args.end(), image.cmd.begin(), image.cmd.end());
  }
  if (args.empty())
    return absl::InvalidArgumentError(
        "no command: neither the container config nor the image gives one");
  return args;
}

std::vector<std::string> ProcessEnv(const runtime::v1::ContainerConfig& config,
                                    const ImageRunConfig& image) {
  std::vector<std::string> env;
  std::map<std::string, size_t> index;
  auto set = [&](const std::string& key, const std::string& entry) {
    auto it = index.find(key);
    if (it != index.end()) {
      env[it->second] = entry;
    } else {
      index[key] = env.size();
      env.push_back(entry);
    }
  };
  for (const std::string& entry : image.env) set(entry.substr(0, entry.find('=')), entry);
  for (const runtime::v1::KeyValue& kv : config.envs())
    set(kv.key(), absl::StrCat(kv.key(), "=", kv.value()));
  if (!index.count("PATH")) env.insert(env.begin(), kDefaultPath);
  return env;
}

std::vector<std::string> DefaultCapabilities() {
  return {"CAP_CHOWN",        "CAP_DAC_OVERRIDE",     "CAP_FSETID",     "CAP_FOWNER",
          "CAP_MKNOD",        "CAP_NET_RAW",          "CAP_SETGID",     "CAP_SETUID",
          "CAP_SETFCAP",      "CAP_SETPCAP",          "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",         "CAP_AUDIT_WRITE"};
}

absl::StatusOr<std::vector<std::string>> ContainerCapabilities(
    const runtime::v1::LinuxContainerSecurityContext& security) {
  std::vector<std::string> host = HostCapabilities();
  if (security.privileged()) return host;
  auto held = [&](const std::string& name) {
    return std::find(host.begin(), host.end(), name) != host.end();
  };
  std::vector<std::string> caps;
  for (const std::string& name : DefaultCapabilities())
    if (held(name)) caps.push_back(name);
  auto known = [&](const std::string& name) -> absl::Status {
    if (name == "ALL" || oci::CapabilityFromName(name).has_value()) return absl::OkStatus();
    return absl::InvalidArgumentError("unknown capability " + name);
  };
  // As containerd: drop ALL first, then adds, then single drops.
  for (const std::string& raw : security.capabilities().drop_capabilities()) {
    if (NormalizeCapability(raw) == "ALL") caps.clear();
  }
  for (const std::string& raw : security.capabilities().add_capabilities()) {
    std::string name = NormalizeCapability(raw);
    RETURN_IF_ERROR(known(name));
    if (name == "ALL") {
      caps = host;
      continue;
    }
    if (!held(name)) {
      return absl::FailedPreconditionError(
          absl::StrCat("capability ", name, " cannot be granted: berthd does not hold it"));
    }
    if (std::find(caps.begin(), caps.end(), name) == caps.end()) caps.push_back(name);
  }
  for (const std::string& raw : security.capabilities().drop_capabilities()) {
    std::string name = NormalizeCapability(raw);
    RETURN_IF_ERROR(known(name));
    if (name == "ALL") continue;
    caps.erase(std::remove(caps.begin(), caps.end(), name), caps.end());
  }
  return caps;
}

nlohmann::json ResourcesJson(const runtime::v1::LinuxContainerResources& r,
                             bool swap_accounting) {
  nlohmann::json resources = nlohmann::json::object();
  nlohmann::json cpu = nlohmann::json::object();
  if (r.cpu_shares() > 0) cpu["shares"] = r.cpu_shares();
  if (r.cpu_quota() != 0) cpu["quota"] = r.cpu_quota();
  if (r.cpu_period() > 0) cpu["period"] = r.cpu_period();
  if (!r.cpuset_cpus().empty()) cpu["cpus"] = r.cpuset_cpus();
  if (!r.cpuset_mems().empty()) cpu["mems"] = r.cpuset_mems();
  if (!cpu.empty()) resources["cpu"] = cpu;
  nlohmann::json memory = nlohmann::json::object();
  if (r.memory_limit_in_bytes() > 0) {
    memory["limit"] = r.memory_limit_in_bytes();
    if (swap_accounting) {
      // kubelet's swap setting; without one the container gets no swap.
      memory["swap"] = r.memory_swap_limit_in_bytes() > 0 ? r.memory_swap_limit_in_bytes()
                                                           : r.memory_limit_in_bytes();
    }
  } else if (swap_accounting && r.memory_swap_limit_in_bytes() != 0) {
    memory["swap"] = r.memory_swap_limit_in_bytes();
  }
  if (!memory.empty()) resources["memory"] = memory;
  if (!r.hugepage_limits().empty()) {
    nlohmann::json limits = nlohmann::json::array();
    for (const runtime::v1::HugepageLimit& limit : r.hugepage_limits())
      limits.push_back({{"pageSize", limit.page_size()}, {"limit", limit.limit()}});
    resources["hugepageLimits"] = limits;
  }
  if (!r.unified().empty()) {
    nlohmann::json unified = nlohmann::json::object();
    for (const auto& [key, value] : r.unified()) unified[key] = value;
    resources["unified"] = unified;
  }
  return resources;
}

absl::StatusOr<nlohmann::json> ContainerSpec(const runtime::v1::ContainerConfig& config,
                                             const ContainerSpecInputs& in) {
  if (in.sandbox == nullptr) return absl::InternalError("container spec without its sandbox");
  const runtime::v1::LinuxContainerSecurityContext& security =
      config.linux().security_context();
  const runtime::v1::NamespaceOption& pod_ns =
      in.sandbox->linux().security_context().namespace_options();
  const runtime::v1::NamespaceOption& ns = security.namespace_options();
  bool privileged = security.privileged();
  if (privileged && !in.sandbox->linux().security_context().privileged())
    return absl::InvalidArgumentError("a privileged container needs a privileged pod sandbox");
  ASSIGN_OR_RETURN(std::optional<PodUserNamespace> userns, PodUserNamespaceOf(pod_ns));
  if (ns.has_userns_options() && ns.userns_options().mode() != pod_ns.userns_options().mode())
    return absl::InvalidArgumentError(
        "a container's user namespace mode must be its pod's: it joins the pod's namespace");

  ASSIGN_OR_RETURN(std::vector<std::string> args, ProcessArgs(config, in.image));
  nlohmann::json caps = in.capabilities;
  nlohmann::json process = {
      {"terminal", config.tty()},
      {"user",
       {{"uid", in.user.uid}, {"gid", in.user.gid}, {"additionalGids", in.user.additional_gids}}},
      {"args", args},
      {"env", ProcessEnv(config, in.image)},
      {"cwd", !config.working_dir().empty()  ? config.working_dir()
              : !in.image.working_dir.empty() ? in.image.working_dir
                                              : "/"},
      {"capabilities",
       {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"noNewPrivileges", security.no_new_privs()}};
  std::vector<std::string> ambient;
  for (const std::string& raw : security.capabilities().add_ambient_capabilities())
    ambient.push_back(NormalizeCapability(raw));
  if (!ambient.empty()) {
    process["capabilities"]["ambient"] = ambient;
    process["capabilities"]["inheritable"] = ambient;
  }
  int64_t oom = config.linux().resources().oom_score_adj();
  if (oom < in.lowest_oom_score_adj) oom = in.lowest_oom_score_adj;
  process["oomScoreAdj"] = oom;

  // LSM labels go into the spec whatever the host runs: the executor applies
  // them where the module is enforcing and reports them unenforced otherwise
  // (runtime/lsm.h), and ContainerStatus shows that.
  const runtime::v1::SecurityProfile& apparmor = security.apparmor();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const std::string& legacy_apparmor = security.apparmor_profile();  // kubelets before 1.30
#pragma GCC diagnostic pop
  std::string apparmor_name =
      apparmor.profile_type() == runtime::v1::SecurityProfile::Localhost ? apparmor.localhost_ref()
      : absl::StartsWith(legacy_apparmor, "localhost/")                  ? legacy_apparmor.substr(10)
                                                                         : "";
  if (!apparmor_name.empty() && !privileged) process["apparmorProfile"] = apparmor_name;
  const runtime::v1::SELinuxOption& selinux = security.selinux_options();
  if (!privileged && !selinux.type().empty()) {
    process["selinuxLabel"] = absl::StrCat(selinux.user().empty() ? "system_u" : selinux.user(), ":",
                                           selinux.role().empty() ? "system_r" : selinux.role(),
                                           ":", selinux.type(),
                                           selinux.level().empty() ? "" : ":" + selinux.level());
  }

  // Namespaces: the pod's, held by the pause process.
  auto pod_namespace = [&](const char* type) {
    return nlohmann::json{{"type", type},
                          {"path", absl::StrCat("/proc/", in.pause_pid, "/ns/",
                                                std::string(type) == "network" ? "net" : type)}};
  };
  nlohmann::json namespaces = nlohmann::json::array({{{"type", "mount"}}});
  if (pod_ns.network() != runtime::v1::NODE) {
    namespaces.push_back(pod_namespace("network"));
    namespaces.push_back(pod_namespace("uts"));
  }
  if (pod_ns.ipc() != runtime::v1::NODE) namespaces.push_back(pod_namespace("ipc"));
  if (userns) namespaces.push_back(pod_namespace("user"));
  switch (ns.pid()) {
    case runtime::v1::POD:
      namespaces.push_back(pod_namespace("pid"));
      break;
    case runtime::v1::CONTAINER:
      namespaces.push_back({{"type", "pid"}});
      break;
    case runtime::v1::TARGET:
      if (in.target_pid <= 0)
        return absl::NotFoundError("the pid namespace target container " + ns.target_id() +
                                   " is not running");
      namespaces.push_back(
          {{"type", "pid"}, {"path", absl::StrCat("/proc/", in.target_pid, "/ns/pid")}});
      break;
    default:
      break;  // NODE
  }
  if (in.cgroup_v2 && !privileged) namespaces.push_back({{"type", "cgroup"}});

  // Mounts: the container's view of the kernel, then the pod's files, then
  // kubelet's volumes; parents before children.
  bool ro_rootfs = security.readonly_rootfs();
  nlohmann::json mounts = {
      {{"destination", "/proc"},
       {"type", "proc"},
       {"source", "proc"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", privileged ? "rw" : "ro"}}},
      {{"destination", "/sys/fs/cgroup"},
       {"type", "cgroup"},
       {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"}}}};
  // In a user namespace, host files are seen through idmapped binds: the
  // host's root-owned files are the container's root's, and what the
  // container's root writes is owned by the pod's host uid on disk.
  auto idmapped = [&](nlohmann::json bind) {
    if (userns) {
      bind["uidMappings"] = IdMappingsJson(userns->uids);
      bind["gidMappings"] = IdMappingsJson(userns->gids);
    }
    return bind;
  };
  std::set<std::string> taken;
  for (const runtime::v1::Mount& mount : config.mounts()) taken.insert(mount.container_path());
  auto add_pod_file = [&](const std::string& destination, const std::string& file) {
    if (taken.count(destination)) return;
    mounts.push_back(idmapped(BindMount(destination, in.sandbox_dir + "/" + file, ro_rootfs)));
  };
  add_pod_file("/etc/hostname", "hostname");
  add_pod_file("/etc/hosts", "hosts");
  add_pod_file("/etc/resolv.conf", "resolv.conf");
  if (!taken.count("/dev/shm")) {
    if (pod_ns.ipc() == runtime::v1::NODE) {
      mounts.push_back(BindMount("/dev/shm", "/dev/shm", false));
    } else if (in.sandbox_shm) {
      mounts.push_back(idmapped(BindMount("/dev/shm", in.sandbox_dir + "/shm", false)));
    } else {
      mounts.push_back({{"destination", "/dev/shm"},
                        {"type", "tmpfs"},
                        {"source", "shm"},
                        {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}});
    }
  }
  std::string rootfs_propagation;
  std::vector<nlohmann::json> volumes;
  for (int index = 0; index < config.mounts_size(); ++index) {
    const runtime::v1::Mount& mount = config.mounts(index);
    if (mount.container_path().empty() || mount.container_path()[0] != '/')
      return absl::InvalidArgumentError(
          absl::StrCat("mount destination \"", mount.container_path(), "\" is not absolute"));
    if (!mount.image().image().empty()) {
      // KEP-4639: an image volume is read-only and runs nothing.
      auto dir = in.image_volumes.find(index);
      if (dir == in.image_volumes.end())
        return absl::InternalError(absl::StrCat("image volume ", mount.container_path(),
                                                " was not mounted"));
      nlohmann::json volume = BindMount(mount.container_path(), dir->second, /*readonly=*/true);
      for (const char* option : {"nosuid", "nodev", "noexec"}) volume["options"].push_back(option);
      volumes.push_back(std::move(volume));
      continue;
    }
    if (mount.host_path().empty() || mount.host_path()[0] != '/')
      return absl::InvalidArgumentError(
          absl::StrCat("mount source \"", mount.host_path(), "\" is not absolute"));
    // The CRI's rules: only a read-only mount can be recursively so, and
    // only a private one (a submount propagated in later would escape it).
    if (mount.recursive_read_only() && !mount.readonly())
      return absl::InvalidArgumentError(absl::StrCat(
          "mount ", mount.container_path(), ": recursive_read_only needs readonly"));
    if (mount.recursive_read_only() && mount.propagation() != runtime::v1::PROPAGATION_PRIVATE)
      return absl::InvalidArgumentError(absl::StrCat(
          "mount ", mount.container_path(), ": recursive_read_only needs private propagation"));
    struct stat st;
    if (::stat(mount.host_path().c_str(), &st) != 0) {
      if (errno != ENOENT) return ErrnoStatus("stat mount source " + mount.host_path());
      // As docker and containerd do for a missing host path: a new directory.
      std::error_code error;
      std::filesystem::create_directories(mount.host_path(), error);
      if (error)
        return absl::InvalidArgumentError(
            absl::StrCat("create mount source ", mount.host_path(), ": ", error.message()));
    }
    RETURN_IF_ERROR(CheckPropagation(mount));
    std::string propagation = "rprivate";
    if (mount.propagation() == runtime::v1::PROPAGATION_BIDIRECTIONAL) {
      propagation = "rshared";
      rootfs_propagation = "rshared";
    } else if (mount.propagation() == runtime::v1::PROPAGATION_HOST_TO_CONTAINER) {
      propagation = "rslave";
      if (rootfs_propagation != "rshared") rootfs_propagation = "rslave";
    }
    nlohmann::json volume = idmapped(
        BindMount(mount.container_path(), mount.host_path(), mount.readonly(), propagation));
    if (!mount.uidmappings().empty() || !mount.gidmappings().empty()) {
      // kubelet's own mappings for this volume, in place of the pod's.
      if (!userns || mount.uidmappings().empty() || mount.gidmappings().empty())
        return absl::InvalidArgumentError(absl::StrCat(
            "mount ", mount.container_path(),
            ": id mappings need both uid and gid ranges and a pod with a user namespace"));
      auto ranges = [](const auto& mappings) {
        nlohmann::json out = nlohmann::json::array();
        for (const runtime::v1::IDMapping& m : mappings)
          out.push_back(
              {{"containerID", m.container_id()}, {"hostID", m.host_id()}, {"size", m.length()}});
        return out;
      };
      volume["uidMappings"] = ranges(mount.uidmappings());
      volume["gidMappings"] = ranges(mount.gidmappings());
    }
    // The executor applies it with mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY).
    if (mount.recursive_read_only()) volume["options"].push_back("rro");
    volumes.push_back(std::move(volume));
  }
  std::stable_sort(volumes.begin(), volumes.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return Depth(a["destination"]) < Depth(b["destination"]);
  });
  for (nlohmann::json& volume : volumes) mounts.push_back(std::move(volume));

  // Devices: the defaults, kubelet's, and with privileged every host device.
  nlohmann::json devices = nlohmann::json::array();
  nlohmann::json device_rules = DefaultDeviceRules();
  if (privileged) {
    std::vector<HostDevice> host;
    CollectDevices("/dev", host);
    for (const HostDevice& device : host) devices.push_back(DeviceJson(device, device.path));
    device_rules = {{{"allow", true}, {"access", "rwm"}}};
  }
  for (const runtime::v1::Device& device : config.devices()) {
    std::string access = device.permissions().empty() ? "rwm" : device.permissions();
    if (access.find_first_not_of("rwm") != std::string::npos)
      return absl::InvalidArgumentError(
          absl::StrCat("device ", device.host_path(), ": bad permissions \"", access, "\""));
    struct stat st;
    if (::stat(device.host_path().c_str(), &st) != 0)
      return ErrnoStatus("stat device " + device.host_path());
    if (S_ISDIR(st.st_mode)) {
      std::vector<HostDevice> found;
      CollectDevices(device.host_path(), found);
      for (const HostDevice& d : found) {
        std::string inside = device.container_path() + d.path.substr(device.host_path().size());
        devices.push_back(DeviceJson(d, inside));
        if (!privileged) device_rules.push_back(DeviceRule(d, access));
      }
      continue;
    }
    ASSIGN_OR_RETURN(HostDevice d, StatDevice(device.host_path()));
    devices.push_back(DeviceJson(d, device.container_path()));
    if (!privileged) device_rules.push_back(DeviceRule(d, access));
  }

  nlohmann::json resources = ResourcesJson(config.linux().resources(), in.swap_accounting);
  resources["devices"] = device_rules;

  nlohmann::json linux_section = {{"namespaces", namespaces},
                                  {"cgroupsPath", in.cgroups_path},
                                  {"resources", resources},
                                  {"devices", devices}};
  if (!rootfs_propagation.empty()) linux_section["rootfsPropagation"] = rootfs_propagation;
  if (!privileged) {
    linux_section["maskedPaths"] =
        security.masked_paths().empty()
            ? DefaultMaskedPaths()
            : std::vector<std::string>(security.masked_paths().begin(),
                                       security.masked_paths().end());
    linux_section["readonlyPaths"] =
        security.readonly_paths().empty()
            ? DefaultReadonlyPaths()
            : std::vector<std::string>(security.readonly_paths().begin(),
                                       security.readonly_paths().end());
    if (in.seccomp.has_value()) linux_section["seccomp"] = *in.seccomp;
  }
  ASSIGN_OR_RETURN(auto sysctls, PodSysctls(*in.sandbox));
  if (!sysctls.empty()) linux_section["sysctl"] = sysctls;

  nlohmann::json annotations = nlohmann::json::object();
  for (const auto& [key, value] : config.annotations()) annotations[key] = value;
  annotations["io.kubernetes.cri.container-type"] = "container";
  annotations["io.kubernetes.cri.container-name"] = config.metadata().name();
  annotations["io.kubernetes.cri.sandbox-id"] = in.sandbox_id;
  annotations["io.kubernetes.cri.sandbox-name"] = in.sandbox->metadata().name();
  annotations["io.kubernetes.cri.sandbox-namespace"] = in.sandbox->metadata().namespace_();
  annotations["io.kubernetes.cri.sandbox-uid"] = in.sandbox->metadata().uid();
  annotations["io.kubernetes.cri.image-name"] = in.image_name;

  return nlohmann::json{{"ociVersion", "1.0.2"},
                        {"process", process},
                        {"root", {{"path", in.rootfs}, {"readonly", ro_rootfs}}},
                        {"mounts", mounts},
                        {"linux", linux_section},
                        {"annotations", annotations}};
}

}  // namespace berth::cri
