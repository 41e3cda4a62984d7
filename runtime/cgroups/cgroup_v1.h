#pragma once

#include <map>
#include <string>

#include "runtime/cgroups/cgroup_manager.h"

namespace berth {

// cgroup v1: one directory per controller hierarchy.
class CgroupV1Manager final : public CgroupManager {
 public:
  // `hierarchies`: controller name -> its mount point (from mountinfo).
  CgroupV1Manager(std::map<std::string, std::string> hierarchies, std::string path);

  absl::Status Join(pid_t pid) override;
  absl::Status SetResources(const oci::Resources& resources) override;
  absl::Status Freeze(bool frozen) override;
  absl::StatusOr<bool> IsFrozen() override;
  absl::StatusOr<std::vector<pid_t>> Pids() override;
  absl::StatusOr<uint64_t> OomKillCount() override;
  absl::Status Destroy() override;
  std::map<std::string, std::string> Dirs() const override { return dirs_; }
  int version() const override { return 1; }

  // Controller -> mount point of every v1 hierarchy in /proc/self/mountinfo.
  static absl::StatusOr<std::map<std::string, std::string>> MountedHierarchies();

 private:
  absl::Status SetMemory(const oci::MemoryResources& memory);
  absl::Status SetCpu(const oci::CpuResources& cpu);
  absl::Status SetBlockIo(const oci::BlockIoResources& block_io);
  absl::Status SetDevices(const std::vector<oci::DeviceRule>& rules);
  absl::Status SetNetwork(const oci::NetworkResources& network);
  absl::Status PrepareCpuset();
  const std::string* Dir(const std::string& controller) const;

  std::map<std::string, std::string> hierarchies_;
  std::string path_;
  std::map<std::string, std::string> dirs_;
};

}  // namespace berth
