#include "runtime/cgroups/systemd_cgroup.h"

#include <cstdint>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"
#include "runtime/base/call_in_child.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroups/cgroup_v2.h"

namespace berth {
namespace {

using systemd::UnitProperty;

constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();

// systemd takes CPU quotas per second, in steps of 10ms: round up, as runc
// does, so that the quota is never below what was asked.
uint64_t QuotaPerSecondUsec(int64_t quota, uint64_t period) {
  uint64_t per_second = static_cast<uint64_t>(quota) * 1000000 / period;
  if (per_second % 10000 != 0) per_second = (per_second / 10000 + 1) * 10000;
  return per_second;
}

}  // namespace

SystemdUnit SystemdUnitOfPath(const std::string& cgroup_path) {
  size_t slash = cgroup_path.rfind('/');
  std::string parent = slash == std::string::npos ? "" : cgroup_path.substr(0, slash);
  size_t parent_slash = parent.rfind('/');
  std::string slice = parent_slash == std::string::npos ? parent : parent.substr(parent_slash + 1);
  return {.name = cgroup_path.substr(slash + 1), .slice = slice.empty() ? "-.slice" : slice};
}

std::vector<UnitProperty> ScopeProperties(const SystemdUnit& unit, pid_t init, int cgroup_version) {
  return {
      {"Description", absl::StrCat("berth container ", unit.name)},
      {"Slice", unit.slice},
      {"PIDs", std::vector<uint32_t>{static_cast<uint32_t>(init)}},
      // The container manages its own cgroup below the scope.
      {"Delegate", true},
      // No ordering against shutdown.target and friends: the scope lives as
      // long as its processes, started and stopped by us.
      {"DefaultDependencies", false},
      {"MemoryAccounting", true},
      {"CPUAccounting", true},
      {"TasksAccounting", true},
      {cgroup_version == 2 ? "IOAccounting" : "BlockIOAccounting", true},
  };
}

std::vector<UnitProperty> ResourceProperties(const oci::Resources& resources, int cgroup_version) {
  bool v2 = cgroup_version == 2;
  std::vector<UnitProperty> properties;
  if (std::optional<int64_t> limit = resources.memory.limit) {
    properties.push_back(
        {v2 ? "MemoryMax" : "MemoryLimit", *limit > 0 ? static_cast<uint64_t>(*limit) : kInfinity});
  }
  const oci::CpuResources& cpu = resources.cpu;
  if (cpu.shares && *cpu.shares != 0) {
    properties.push_back({v2 ? "CPUWeight" : "CPUShares",
                          v2 ? CgroupV2Manager::SharesToWeight(*cpu.shares) : *cpu.shares});
  }
  if (cpu.quota || cpu.period) {
    uint64_t period = cpu.period.value_or(100000);
    if (cpu.period && *cpu.period != 0) properties.push_back({"CPUQuotaPeriodUSec", period});
    bool limited = cpu.quota && *cpu.quota > 0 && period != 0;
    properties.push_back(
        {"CPUQuotaPerSecUSec", limited ? QuotaPerSecondUsec(*cpu.quota, period) : kInfinity});
  }
  if (std::optional<int64_t> pids = resources.pids_limit) {
    properties.push_back({"TasksMax", *pids > 0 ? static_cast<uint64_t>(*pids) : kInfinity});
  }
  if (std::optional<uint16_t> weight = resources.block_io.weight; weight && *weight != 0) {
    properties.push_back({v2 ? "IOWeight" : "BlockIOWeight",
                          v2 ? CgroupV2Manager::BlkioToIoWeight(*weight) : uint64_t{*weight}});
  }
  return properties;
}

namespace {

// Runs `call` against systemd's manager in a child process: libsystemd and
// the libraries it pulls in (about half a megabyte of each process's memory)
// then never load into the monitor, which lives as long as its container.
absl::Status WithSystemd(const std::function<absl::Status(systemd::Manager&)>& call) {
  return CallInChild([&]() -> absl::Status {
    ASSIGN_OR_RETURN(systemd::Manager manager, systemd::Manager::Connect());
    return call(manager);
  });
}

}  // namespace

absl::Status SystemdCgroupManager::Place(pid_t pid, const oci::Resources* resources) {
  std::vector<UnitProperty> properties = ScopeProperties(unit_, pid, version());
  if (resources != nullptr) {
    std::vector<UnitProperty> limits = ResourceProperties(*resources, version());
    properties.insert(properties.end(), limits.begin(), limits.end());
  }
  RETURN_IF_ERROR(WithSystemd([&](systemd::Manager& systemd) {
    absl::Status started = systemd.StartTransientUnit(unit_.name, properties);
    if (absl::IsAlreadyExists(started)) {
      // Left by a create of this id that died before its rollback ran: its
      // processes are that create's, so the unit is stopped and made afresh.
      RETURN_IF_ERROR(systemd.StopUnit(unit_.name));
      (void)systemd.ResetFailedUnit(unit_.name);
      started = systemd.StartTransientUnit(unit_.name, properties);
    }
    return started;
  }));
  // systemd places the init only in the hierarchies it manages; the others
  // (v1 controllers such as net_cls or hugetlb) are ours to join. The limits
  // go to cgroupfs too: systemd knows no equivalent for some of them.
  RETURN_IF_ERROR(cgroupfs_->Join(pid));
  return resources != nullptr ? cgroupfs_->SetResources(*resources) : absl::OkStatus();
}

absl::Status SystemdCgroupManager::SetResources(const oci::Resources& resources) {
  std::vector<UnitProperty> properties = ResourceProperties(resources, version());
  if (!properties.empty()) {
    RETURN_IF_ERROR(WithSystemd([&](systemd::Manager& systemd) {
      return systemd.SetUnitProperties(unit_.name, properties);
    }));
  }
  return cgroupfs_->SetResources(resources);
}

absl::Status SystemdCgroupManager::Destroy() {
  RETURN_IF_ERROR(
      WithSystemd([&](systemd::Manager& systemd) { return systemd.StopUnit(unit_.name); }));
  return cgroupfs_->Destroy();
}

}  // namespace berth
