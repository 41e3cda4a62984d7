#include "runtime/cgroups/cgroup_v1.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/atomic_file.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroups/cgroup_files.h"

namespace berth {
namespace {

using cgroups::WriteControl;

std::string DeviceNumber(const std::optional<int64_t>& number) {
  return number.has_value() ? std::to_string(*number) : "*";
}

}  // namespace

CgroupV1Manager::CgroupV1Manager(std::map<std::string, std::string> hierarchies, std::string path)
    : hierarchies_(std::move(hierarchies)), path_(std::move(path)) {
  for (const auto& [controller, mount] : hierarchies_) dirs_[controller] = mount + path_;
}

absl::StatusOr<std::map<std::string, std::string>> CgroupV1Manager::MountedHierarchies() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return absl::NotFoundError("cannot read /proc/self/mountinfo");
  std::map<std::string, std::string> hierarchies;
  for (std::string line; std::getline(in, line);) {
    // "... - cgroup cgroup rw,memory": fields after the separator are type, source, super options.
    size_t separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::vector<std::string> before = absl::StrSplit(line.substr(0, separator), ' ');
    std::vector<std::string> after = absl::StrSplit(line.substr(separator + 3), ' ');
    if (before.size() < 5 || after.size() < 3 || after[0] != "cgroup") continue;
    for (absl::string_view option : absl::StrSplit(after[2], ',')) {
      if (option == "rw" || option == "ro") continue;
      std::string name(absl::StripPrefix(option, "name="));  // named hierarchies: name=systemd
      hierarchies.emplace(name, before[4]);
    }
  }
  return hierarchies;
}

const std::string* CgroupV1Manager::Dir(const std::string& controller) const {
  auto it = dirs_.find(controller);
  return it == dirs_.end() ? nullptr : &it->second;
}

absl::Status CgroupV1Manager::PrepareCpuset() {
  // A new cpuset cgroup starts with empty cpus/mems and refuses tasks until
  // they are filled: inherit them from the parent, top down.
  std::string mount = hierarchies_.at("cpuset");
  std::string current = mount;
  for (absl::string_view part : absl::StrSplit(path_, '/', absl::SkipEmpty())) {
    std::string parent = current;
    current = absl::StrCat(current, "/", part);
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
      absl::StatusOr<std::string> value = cgroups::ReadControl(current, file);
      if (!value.ok()) return value.status();
      if (!absl::StripAsciiWhitespace(*value).empty()) continue;
      ASSIGN_OR_RETURN(std::string inherited, cgroups::ReadControl(parent, file));
      RETURN_IF_ERROR(
          WriteControl(current, file, std::string(absl::StripAsciiWhitespace(inherited))));
    }
  }
  return absl::OkStatus();
}

absl::Status CgroupV1Manager::Join(pid_t pid) {
  for (const auto& [controller, dir] : dirs_) {
    RETURN_IF_ERROR(MakeDirectories(dir, 0755));
    if (controller == "cpuset") RETURN_IF_ERROR(PrepareCpuset());
    RETURN_IF_ERROR(WriteControl(dir, "cgroup.procs", std::to_string(pid)));
  }
  return absl::OkStatus();
}

absl::Status CgroupV1Manager::SetMemory(const oci::MemoryResources& memory) {
  const std::string* dir = Dir("memory");
  bool any = memory.limit || memory.reservation || memory.swap || memory.swappiness ||
             memory.disable_oom_killer || memory.kernel_tcp;
  if (!any) return absl::OkStatus();
  if (dir == nullptr)
    return absl::FailedPreconditionError("linux.resources.memory: no memory cgroup on this host");
  if (memory.limit.has_value()) {
    absl::Status status =
        WriteControl(*dir, "memory.limit_in_bytes", std::to_string(*memory.limit));
    // Lowering the limit below memory+swap first needs memsw lowered first.
    if (!status.ok() && memory.swap.has_value()) {
      RETURN_IF_ERROR(
          WriteControl(*dir, "memory.memsw.limit_in_bytes", std::to_string(*memory.swap)));
      status = WriteControl(*dir, "memory.limit_in_bytes", std::to_string(*memory.limit));
    }
    RETURN_IF_ERROR(status);
  }
  if (memory.swap.has_value()) {
    if (::access((*dir + "/memory.memsw.limit_in_bytes").c_str(), F_OK) != 0) {
      if (*memory.swap != -1 && (!memory.limit.has_value() || *memory.swap != *memory.limit)) {
        return absl::FailedPreconditionError(
            "linux.resources.memory.swap: swap accounting is off on this host (no "
            "memory.memsw.limit_in_bytes)");
      }
    } else {
      RETURN_IF_ERROR(
          WriteControl(*dir, "memory.memsw.limit_in_bytes", std::to_string(*memory.swap)));
    }
  }
  if (memory.reservation.has_value()) {
    RETURN_IF_ERROR(
        WriteControl(*dir, "memory.soft_limit_in_bytes", std::to_string(*memory.reservation)));
  }
  if (memory.swappiness.has_value()) {
    RETURN_IF_ERROR(WriteControl(*dir, "memory.swappiness", std::to_string(*memory.swappiness)));
  }
  if (memory.kernel_tcp.has_value()) {
    if (::access((*dir + "/memory.kmem.tcp.limit_in_bytes").c_str(), F_OK) != 0) {
      return absl::FailedPreconditionError(
          "linux.resources.memory.kernelTCP: this kernel has no memory.kmem.tcp.limit_in_bytes");
    }
    RETURN_IF_ERROR(
        WriteControl(*dir, "memory.kmem.tcp.limit_in_bytes", std::to_string(*memory.kernel_tcp)));
  }
  if (memory.disable_oom_killer.has_value()) {
    RETURN_IF_ERROR(
        WriteControl(*dir, "memory.oom_control", *memory.disable_oom_killer ? "1" : "0"));
  }
  return absl::OkStatus();
}

absl::Status CgroupV1Manager::SetCpu(const oci::CpuResources& cpu) {
  const std::string* dir = Dir("cpu");
  if (cpu.shares || cpu.quota || cpu.period || cpu.realtime_runtime || cpu.realtime_period) {
    if (dir == nullptr)
      return absl::FailedPreconditionError("linux.resources.cpu: no cpu cgroup on this host");
    if (cpu.shares) RETURN_IF_ERROR(WriteControl(*dir, "cpu.shares", std::to_string(*cpu.shares)));
    if (cpu.period)
      RETURN_IF_ERROR(WriteControl(*dir, "cpu.cfs_period_us", std::to_string(*cpu.period)));
    if (cpu.quota)
      RETURN_IF_ERROR(WriteControl(*dir, "cpu.cfs_quota_us", std::to_string(*cpu.quota)));
    if (cpu.realtime_period)
      RETURN_IF_ERROR(WriteControl(*dir, "cpu.rt_period_us", std::to_string(*cpu.realtime_period)));
    if (cpu.realtime_runtime)
      RETURN_IF_ERROR(
          WriteControl(*dir, "cpu.rt_runtime_us", std::to_string(*cpu.realtime_runtime)));
  }
  if (cpu.idle.has_value())
    return absl::FailedPreconditionError("linux.resources.cpu.idle: needs cgroup v2");
  const std::string* cpuset = Dir("cpuset");
  if (!cpu.cpus.empty() || !cpu.mems.empty()) {
    if (cpuset == nullptr)
      return absl::FailedPreconditionError(
          "linux.resources.cpu.cpus: no cpuset cgroup on this host");
    if (!cpu.cpus.empty()) RETURN_IF_ERROR(WriteControl(*cpuset, "cpuset.cpus", cpu.cpus));
    if (!cpu.mems.empty()) RETURN_IF_ERROR(WriteControl(*cpuset, "cpuset.mems", cpu.mems));
  }
  return absl::OkStatus();
}

absl::Status CgroupV1Manager::SetBlockIo(const oci::BlockIoResources& b) {
  bool any = b.weight || b.leaf_weight || !b.weight_devices.empty() || !b.read_bps.empty() ||
             !b.write_bps.empty() || !b.read_iops.empty() || !b.write_iops.empty();
  if (!any) return absl::OkStatus();
  const std::string* dir = Dir("blkio");
  if (dir == nullptr)
    return absl::FailedPreconditionError("linux.resources.blockIO: no blkio cgroup on this host");
  // Kernels with the BFQ scheduler expose only the bfq variant of the weight.
  std::string weight_file =
      ::access((*dir + "/blkio.weight").c_str(), F_OK) == 0 ? "blkio.weight" : "blkio.bfq.weight";
  if (b.weight) RETURN_IF_ERROR(WriteControl(*dir, weight_file, std::to_string(*b.weight)));
  if (b.leaf_weight)
    RETURN_IF_ERROR(WriteControl(*dir, "blkio.leaf_weight", std::to_string(*b.leaf_weight)));
  for (const oci::WeightDevice& d : b.weight_devices) {
    if (d.weight)
      RETURN_IF_ERROR(WriteControl(*dir, weight_file + "_device",
                                   absl::StrCat(d.major, ":", d.minor, " ", *d.weight)));
  }
  const std::pair<const char*, const std::vector<oci::ThrottleDevice>*> throttles[] = {
      {"blkio.throttle.read_bps_device", &b.read_bps},
      {"blkio.throttle.write_bps_device", &b.write_bps},
      {"blkio.throttle.read_iops_device", &b.read_iops},
      {"blkio.throttle.write_iops_device", &b.write_iops}};
  for (const auto& [file, devices] : throttles) {
    for (const oci::ThrottleDevice& d : *devices) {
      RETURN_IF_ERROR(WriteControl(*dir, file, absl::StrCat(d.major, ":", d.minor, " ", d.rate)));
    }
  }
  return absl::OkStatus();
}

absl::Status CgroupV1Manager::SetDevices(const std::vector<oci::DeviceRule>& rules) {
  if (rules.empty()) return absl::OkStatus();
  const std::string* dir = Dir("devices");
  if (dir == nullptr)
    return absl::FailedPreconditionError("linux.resources.devices: no devices cgroup on this host");
  for (const oci::DeviceRule& rule : rules) {
    std::string entry = absl::StrCat(std::string(1, rule.type), " ", DeviceNumber(rule.major), ":",
                                     DeviceNumber(rule.minor), " ", rule.access);
    if (rule.type == 'a') entry = "a";
    RETURN_IF_ERROR(WriteControl(*dir, rule.allow ? "devices.allow" : "devices.deny", entry));
  }
  return absl::OkStatus();
}

// net_cls and net_prio are often not mounted (systemd leaves them out): like
// runc, a limit for an absent controller is skipped, with a warning.
absl::Status CgroupV1Manager::SetNetwork(const oci::NetworkResources& network) {
  if (network.class_id.has_value()) {
    if (const std::string* dir = Dir("net_cls"); dir != nullptr) {
      RETURN_IF_ERROR(WriteControl(*dir, "net_cls.classid", std::to_string(*network.class_id)));
    } else {
      std::fprintf(stderr,
                   "berth-runtime: warning: linux.resources.network.classID: no net_cls cgroup "
                   "on this host\n");
    }
  }
  if (!network.priorities.empty()) {
    const std::string* dir = Dir("net_prio");
    if (dir == nullptr) {
      std::fprintf(stderr,
                   "berth-runtime: warning: linux.resources.network.priorities: no net_prio "
                   "cgroup on this host\n");
      return absl::OkStatus();
    }
    for (const auto& [name, priority] : network.priorities)
      RETURN_IF_ERROR(WriteControl(*dir, "net_prio.ifpriomap", absl::StrCat(name, " ", priority)));
  }
  return absl::OkStatus();
}

absl::Status CgroupV1Manager::SetResources(const oci::Resources& resources) {
  if (!resources.unified.empty()) {
    return absl::FailedPreconditionError(
        "linux.resources.unified: needs cgroup v2, this host runs v1");
  }
  RETURN_IF_ERROR(SetDevices(resources.devices));
  RETURN_IF_ERROR(SetMemory(resources.memory));
  RETURN_IF_ERROR(SetCpu(resources.cpu));
  if (resources.pids_limit.has_value()) {
    const std::string* dir = Dir("pids");
    if (dir == nullptr)
      return absl::FailedPreconditionError("linux.resources.pids: no pids cgroup on this host");
    RETURN_IF_ERROR(
        WriteControl(*dir, "pids.max",
                     *resources.pids_limit > 0 ? std::to_string(*resources.pids_limit) : "max"));
  }
  RETURN_IF_ERROR(SetBlockIo(resources.block_io));
  RETURN_IF_ERROR(SetNetwork(resources.network));
  for (const oci::HugepageLimit& limit : resources.hugepage_limits) {
    const std::string* dir = Dir("hugetlb");
    if (dir == nullptr)
      return absl::FailedPreconditionError(
          "linux.resources.hugepageLimits: no hugetlb cgroup on this host");
    RETURN_IF_ERROR(WriteControl(*dir, absl::StrCat("hugetlb.", limit.page_size, ".limit_in_bytes"),
                                 std::to_string(limit.limit)));
  }
  return absl::OkStatus();
}

absl::Status CgroupV1Manager::Freeze(bool frozen) {
  const std::string* dir = Dir("freezer");
  if (dir == nullptr) return absl::FailedPreconditionError("no freezer cgroup on this host");
  RETURN_IF_ERROR(WriteControl(*dir, "freezer.state", frozen ? "FROZEN" : "THAWED"));
  // FREEZING is transient: wait until the kernel reports the final state.
  for (int i = 0; i < 1000; ++i) {
    ASSIGN_OR_RETURN(bool now, IsFrozen());
    ASSIGN_OR_RETURN(std::string state, cgroups::ReadControl(*dir, "freezer.state"));
    if (now == frozen && absl::StripAsciiWhitespace(state) != "FREEZING") return absl::OkStatus();
    ::usleep(1000);
  }
  return absl::DeadlineExceededError("freezer did not settle in " + *dir);
}

absl::StatusOr<bool> CgroupV1Manager::IsFrozen() {
  const std::string* dir = Dir("freezer");
  if (dir == nullptr) return false;
  absl::StatusOr<std::string> state = cgroups::ReadControl(*dir, "freezer.state");
  if (!state.ok())
    return absl::IsNotFound(state.status()) ? absl::StatusOr<bool>(false) : state.status();
  return absl::StripAsciiWhitespace(*state) == "FROZEN";
}

absl::StatusOr<std::vector<pid_t>> CgroupV1Manager::Pids() {
  const std::string* dir = Dir("pids");
  if (dir == nullptr) dir = Dir("memory");
  if (dir == nullptr)
    return absl::FailedPreconditionError("no pids or memory cgroup to list processes");
  absl::StatusOr<std::vector<pid_t>> pids = cgroups::ReadProcs(*dir);
  if (absl::IsNotFound(pids.status())) return std::vector<pid_t>{};
  return pids;
}

absl::StatusOr<uint64_t> CgroupV1Manager::OomKillCount() {
  const std::string* dir = Dir("memory");
  if (dir == nullptr) return absl::FailedPreconditionError("no memory cgroup on this host");
  return cgroups::ReadKeyedValue(*dir, "memory.oom_control", "oom_kill");
}

absl::Status CgroupV1Manager::Destroy() {
  absl::Status first_error;
  for (const auto& [controller, dir] : dirs_) {
    if (path_.empty() || path_ == "/") continue;  // never remove a hierarchy root
    absl::Status status = cgroups::RemoveCgroupDir(dir);
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  return first_error;
}

}  // namespace berth
