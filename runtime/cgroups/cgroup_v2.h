#pragma once

#include <string>

#include "runtime/cgroups/cgroup_manager.h"

namespace berth {

// cgroup v2: one unified hierarchy under `mount_root`.
class CgroupV2Manager final : public CgroupManager {
 public:
  CgroupV2Manager(std::string mount_root, std::string path);

  absl::Status Join(pid_t pid) override;
  absl::Status SetResources(const oci::Resources& resources) override;
  absl::Status Freeze(bool frozen) override;
  absl::StatusOr<bool> IsFrozen() override;
  absl::StatusOr<std::vector<pid_t>> Pids() override;
  absl::StatusOr<uint64_t> OomKillCount() override;
  absl::Status Destroy() override;
  std::map<std::string, std::string> Dirs() const override { return {{"", dir_}}; }
  int version() const override { return 2; }

  // cpu.shares (2..262144) -> cpu.weight (1..10000), the mapping runc and crun use.
  static uint64_t SharesToWeight(uint64_t shares);
  // blkio weight (10..1000) -> io.weight (1..10000).
  static uint64_t BlkioToIoWeight(uint64_t weight);

 private:
  // Creates the directories and enables the controllers we use in every
  // ancestor's cgroup.subtree_control, so the leaf has their files.
  absl::Status Create();

  std::string mount_root_;
  std::string path_;
  std::string dir_;
};

}  // namespace berth
