#include "runtime/cgroups/cgroup_v2.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroups/cgroup_files.h"
#include "runtime/cgroups/device_filter.h"

namespace berth {
namespace {

using cgroups::WriteControl;

constexpr const char* kControllers[] = {"cpu", "cpuset", "io", "memory", "pids", "hugetlb"};

std::string MaxOr(int64_t value) { return value < 0 ? "max" : std::to_string(value); }

}  // namespace

CgroupV2Manager::CgroupV2Manager(std::string mount_root, std::string path)
    : mount_root_(std::move(mount_root)), path_(std::move(path)), dir_(mount_root_ + path_) {}

uint64_t CgroupV2Manager::SharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t CgroupV2Manager::BlkioToIoWeight(uint64_t weight) {
  if (weight == 0) return 0;
  weight = std::clamp<uint64_t>(weight, 10, 1000);
  return 1 + (weight - 10) * 9999 / 990;
}

absl::Status CgroupV2Manager::Create() {
  std::string current = mount_root_;
  for (absl::string_view part : absl::StrSplit(path_, '/', absl::SkipEmpty())) {
    // Enable in `current` what the child will need, as far as `current` has it.
    ASSIGN_OR_RETURN(std::string available, cgroups::ReadControl(current, "cgroup.controllers"));
    std::set<std::string> have =
        absl::StrSplit(absl::StripAsciiWhitespace(available), ' ', absl::SkipEmpty());
    std::vector<std::string> enable;
    for (const char* controller : kControllers) {
      if (have.contains(controller)) enable.push_back(absl::StrCat("+", controller));
    }
    if (!enable.empty()) {
      RETURN_IF_ERROR(WriteControl(current, "cgroup.subtree_control", absl::StrJoin(enable, " ")));
    }
    current = absl::StrCat(current, "/", part);
    if (::mkdir(current.c_str(), 0755) != 0 && errno != EEXIST)
      return ErrnoStatus("mkdir " + current);
  }
  return absl::OkStatus();
}

absl::Status CgroupV2Manager::Join(pid_t pid) {
  RETURN_IF_ERROR(Create());
  return WriteControl(dir_, "cgroup.procs", std::to_string(pid));
}

absl::Status CgroupV2Manager::SetResources(const oci::Resources& r) {
  if (!r.devices.empty()) RETURN_IF_ERROR(AttachDeviceFilter(dir_, r.devices));
  const oci::MemoryResources& m = r.memory;
  if (m.limit) RETURN_IF_ERROR(WriteControl(dir_, "memory.max", MaxOr(*m.limit)));
  if (m.reservation) RETURN_IF_ERROR(WriteControl(dir_, "memory.low", MaxOr(*m.reservation)));
  if (m.swap) {
    // OCI swap is memory+swap; v2 limits swap alone.
    std::string swap = "max";
    if (*m.swap >= 0) {
      if (!m.limit || *m.limit < 0)
        return absl::InvalidArgumentError(
            "linux.resources.memory.swap: needs memory.limit on cgroup v2");
      if (*m.swap < *m.limit)
        return absl::InvalidArgumentError(
            "linux.resources.memory.swap: must be at least memory.limit");
      swap = std::to_string(*m.swap - *m.limit);
    }
    RETURN_IF_ERROR(WriteControl(dir_, "memory.swap.max", swap));
  }
  // No v2 equivalents: warned about rather than refused, as on v1 without
  // the controllers.
  if (m.kernel_tcp || r.network.class_id || !r.network.priorities.empty()) {
    std::fprintf(stderr,
                 "berth-runtime: warning: memory.kernelTCP and network limits have no cgroup v2 "
                 "equivalent; not applied\n");
  }
  if (m.disable_oom_killer.value_or(false)) {
    return absl::FailedPreconditionError(
        "linux.resources.memory.disableOOMKiller: not available on cgroup v2");
  }
  const oci::CpuResources& c = r.cpu;
  if (c.shares)
    RETURN_IF_ERROR(WriteControl(dir_, "cpu.weight", std::to_string(SharesToWeight(*c.shares))));
  if (c.quota || c.period) {
    std::string quota = c.quota && *c.quota > 0 ? std::to_string(*c.quota) : "max";
    RETURN_IF_ERROR(
        WriteControl(dir_, "cpu.max", absl::StrCat(quota, " ", c.period.value_or(100000))));
  }
  if (c.idle) RETURN_IF_ERROR(WriteControl(dir_, "cpu.idle", std::to_string(*c.idle)));
  if (c.realtime_runtime || c.realtime_period) {
    return absl::FailedPreconditionError(
        "linux.resources.cpu.realtimeRuntime: not available on cgroup v2");
  }
  if (!c.cpus.empty()) RETURN_IF_ERROR(WriteControl(dir_, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) RETURN_IF_ERROR(WriteControl(dir_, "cpuset.mems", c.mems));
  if (r.pids_limit)
    RETURN_IF_ERROR(
        WriteControl(dir_, "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max"));
  const oci::BlockIoResources& b = r.block_io;
  if (b.weight)
    RETURN_IF_ERROR(
        WriteControl(dir_, "io.weight", absl::StrCat("default ", BlkioToIoWeight(*b.weight))));
  for (const oci::WeightDevice& d : b.weight_devices) {
    if (d.weight)
      RETURN_IF_ERROR(WriteControl(
          dir_, "io.weight", absl::StrCat(d.major, ":", d.minor, " ", BlkioToIoWeight(*d.weight))));
  }
  const std::pair<const char*, const std::vector<oci::ThrottleDevice>*> throttles[] = {
      {"rbps", &b.read_bps},
      {"wbps", &b.write_bps},
      {"riops", &b.read_iops},
      {"wiops", &b.write_iops}};
  for (const auto& [key, devices] : throttles) {
    for (const oci::ThrottleDevice& d : *devices) {
      RETURN_IF_ERROR(
          WriteControl(dir_, "io.max", absl::StrCat(d.major, ":", d.minor, " ", key, "=", d.rate)));
    }
  }
  for (const oci::HugepageLimit& h : r.hugepage_limits) {
    RETURN_IF_ERROR(
        WriteControl(dir_, absl::StrCat("hugetlb.", h.page_size, ".max"), std::to_string(h.limit)));
  }
  for (const auto& [file, value] : r.unified) {
    absl::Status status = WriteControl(dir_, file, value);
    if (!status.ok())
      return absl::Status(status.code(),
                          absl::StrCat("linux.resources.unified.", file, ": ", status.message()));
  }
  return absl::OkStatus();
}

absl::Status CgroupV2Manager::Freeze(bool frozen) {
  RETURN_IF_ERROR(WriteControl(dir_, "cgroup.freeze", frozen ? "1" : "0"));
  for (int i = 0; i < 1000; ++i) {
    ASSIGN_OR_RETURN(std::string events, cgroups::ReadControl(dir_, "cgroup.events"));
    if (events.find(frozen ? "frozen 1" : "frozen 0") != std::string::npos) return absl::OkStatus();
    ::usleep(1000);
  }
  return absl::DeadlineExceededError("cgroup did not settle frozen state in " + dir_);
}

absl::StatusOr<bool> CgroupV2Manager::IsFrozen() {
  absl::StatusOr<std::string> freeze = cgroups::ReadControl(dir_, "cgroup.freeze");
  if (!freeze.ok())
    return absl::IsNotFound(freeze.status()) ? absl::StatusOr<bool>(false) : freeze.status();
  return absl::StripAsciiWhitespace(*freeze) == "1";
}

absl::StatusOr<std::vector<pid_t>> CgroupV2Manager::Pids() {
  absl::StatusOr<std::vector<pid_t>> pids = cgroups::ReadProcs(dir_);
  if (absl::IsNotFound(pids.status())) return std::vector<pid_t>{};
  return pids;
}

absl::StatusOr<uint64_t> CgroupV2Manager::OomKillCount() {
  return cgroups::ReadKeyedValue(dir_, "memory.events", "oom_kill");
}

absl::Status CgroupV2Manager::Destroy() {
  if (path_.empty() || path_ == "/") return absl::OkStatus();
  return cgroups::RemoveCgroupDir(dir_);
}

}  // namespace berth
