#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/cgroups/cgroup_manager.h"
#include "runtime/systemd/systemd_manager.h"

namespace berth {

// A container's unit under the systemd driver: "berth-<id>.scope" in its slice.
struct SystemdUnit {
  std::string name;   // berth-<id>.scope
  std::string slice;  // kubepods-besteffort.slice, or -.slice at the root
};

// The unit whose cgroup is `cgroup_path` (/a.slice/a-b.slice/x.scope).
SystemdUnit SystemdUnitOfPath(const std::string& cgroup_path);

// What a container's transient scope starts with, as runc's systemd driver
// does: its slice, the init, delegation, accounting on.
std::vector<systemd::UnitProperty> ScopeProperties(const SystemdUnit& unit, pid_t init,
                                                   int cgroup_version);
// The limits mirrored on the unit, so that systemd writes the same values
// back when it reloads instead of resetting them.
std::vector<systemd::UnitProperty> ResourceProperties(const oci::Resources& resources,
                                                      int cgroup_version);

// The systemd driver: systemd makes the container's cgroup, a transient
// scope holding the init, over D-Bus; berth then joins the hierarchies
// systemd leaves alone and writes limits through cgroupfs, as runc does.
// Each D-Bus exchange runs in a child process (CallInChild): only for the
// single-threaded executor and monitor.
class SystemdCgroupManager final : public CgroupManager {
 public:
  SystemdCgroupManager(SystemdUnit unit, std::unique_ptr<CgroupManager> cgroupfs)
      : unit_(std::move(unit)), cgroupfs_(std::move(cgroupfs)) {}

  absl::Status Join(pid_t pid) override { return Place(pid, nullptr); }
  absl::Status SetResources(const oci::Resources& resources) override;
  // One exchange with systemd: the scope starts with the init and the limits.
  absl::Status Place(pid_t pid, const oci::Resources* resources) override;
  absl::Status Freeze(bool frozen) override { return cgroupfs_->Freeze(frozen); }
  absl::StatusOr<bool> IsFrozen() override { return cgroupfs_->IsFrozen(); }
  absl::StatusOr<std::vector<pid_t>> Pids() override { return cgroupfs_->Pids(); }
  absl::StatusOr<uint64_t> OomKillCount() override { return cgroupfs_->OomKillCount(); }
  absl::Status Destroy() override;
  std::map<std::string, std::string> Dirs() const override { return cgroupfs_->Dirs(); }
  int version() const override { return cgroupfs_->version(); }

 private:
  SystemdUnit unit_;
  std::unique_ptr<CgroupManager> cgroupfs_;
};

}  // namespace berth
