// CgroupV2Manager against a fake cgroup2 tree laid out like the kernel's:
// every cgroup has cgroup.controllers / cgroup.subtree_control / cgroup.procs,
// and interface files exist only for controllers the parent enabled, so a
// write to a file the kernel would not have fails here too.

#include "runtime/cgroups/cgroup_v2.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/atomic_file.h"
#include "tests/unit/temp_dir.h"

namespace berth {
namespace {

using ::testing::HasSubstr;

class FakeCgroup2Tree {
 public:
  FakeCgroup2Tree() { MakeCgroup("", "cpuset cpu io memory hugetlb pids"); }

  // A cgroup the way the kernel would populate it, with the interface files
  // of `controllers` (those enabled in its parent's subtree_control).
  void MakeCgroup(const std::string& path, const std::string& controllers) {
    std::string dir = root_.path() + path;
    std::filesystem::create_directories(dir);
    Write(dir + "/cgroup.controllers", controllers + "\n");
    for (const char* file : {"cgroup.subtree_control", "cgroup.procs", "cgroup.freeze"})
      Write(dir + "/" + file, "");
    Write(dir + "/cgroup.events", "populated 0\nfrozen 0\n");
    std::map<std::string, std::vector<std::string>> files = {
        {"memory", {"memory.max", "memory.low", "memory.swap.max", "memory.high"}},
        {"cpu", {"cpu.weight", "cpu.max", "cpu.idle"}},
        {"cpuset", {"cpuset.cpus", "cpuset.mems"}},
        {"pids", {"pids.max"}},
        {"io", {"io.weight", "io.max"}},
        {"hugetlb", {"hugetlb.2MB.max"}}};
    for (const auto& [controller, names] : files) {
      if (controllers.find(controller) == std::string::npos) continue;
      for (const std::string& name : names) Write(dir + "/" + name, "");
    }
  }

  std::string Read(const std::string& path) const {
    return ReadFileToString(root_.path() + path).value_or("<missing>");
  }
  const std::string& root() const { return root_.path(); }

 private:
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  testing::TempDir root_;
};

TEST(CgroupV2Test, EnablesControllersDownTheTreeAndJoins) {
  FakeCgroup2Tree tree;
  tree.MakeCgroup("/kubepods", "cpuset cpu io memory hugetlb pids");
  tree.MakeCgroup("/kubepods/c1", "cpuset cpu io memory hugetlb pids");
  CgroupV2Manager manager(tree.root(), "/kubepods/c1");
  ASSERT_TRUE(manager.Join(4242).ok());
  EXPECT_EQ(tree.Read("/cgroup.subtree_control"), "+cpu +cpuset +io +memory +pids +hugetlb");
  EXPECT_EQ(tree.Read("/kubepods/cgroup.subtree_control"),
            "+cpu +cpuset +io +memory +pids +hugetlb");
  EXPECT_EQ(tree.Read("/kubepods/c1/cgroup.procs"), "4242");
  EXPECT_EQ(manager.Dirs().at(""), tree.root() + "/kubepods/c1");
}

TEST(CgroupV2Test, OnlyAvailableControllersAreEnabled) {
  FakeCgroup2Tree tree;
  // A parent that only has memory and pids delegated to it.
  tree.MakeCgroup("/limited", "memory pids");
  tree.MakeCgroup("/limited/c1", "memory pids");
  CgroupV2Manager manager(tree.root(), "/limited/c1");
  ASSERT_TRUE(manager.Join(1).ok());
  EXPECT_EQ(tree.Read("/limited/cgroup.subtree_control"), "+memory +pids");
}

TEST(CgroupV2Test, WritesResourcesInV2Terms) {
  FakeCgroup2Tree tree;
  tree.MakeCgroup("/c1", "cpuset cpu io memory hugetlb pids");
  CgroupV2Manager manager(tree.root(), "/c1");
  oci::Resources r;
  r.memory.limit = 256 << 20;
  r.memory.reservation = 128 << 20;
  r.memory.swap = 384 << 20;  // memory+swap in OCI terms
  r.cpu.shares = 1024;
  r.cpu.quota = 50000;
  r.cpu.period = 100000;
  r.cpu.cpus = "0-1";
  r.pids_limit = 100;
  r.block_io.weight = 500;
  r.block_io.read_bps = {{.major = 8, .minor = 0, .rate = 1048576}};
  r.hugepage_limits = {{.page_size = "2MB", .limit = 4194304}};
  r.unified = {{"memory.high", "200000000"}};
  ASSERT_TRUE(manager.SetResources(r).ok());
  EXPECT_EQ(tree.Read("/c1/memory.max"), "268435456");
  EXPECT_EQ(tree.Read("/c1/memory.low"), "134217728");
  EXPECT_EQ(tree.Read("/c1/memory.swap.max"), "134217728");
  EXPECT_EQ(tree.Read("/c1/cpu.weight"), "39");  // 1 + (1024-2)*9999/262142
  EXPECT_EQ(tree.Read("/c1/cpu.max"), "50000 100000");
  EXPECT_EQ(tree.Read("/c1/cpuset.cpus"), "0-1");
  EXPECT_EQ(tree.Read("/c1/pids.max"), "100");
  EXPECT_EQ(tree.Read("/c1/io.weight"), "default 4950");  // 1 + (500-10)*9999/990
  EXPECT_EQ(tree.Read("/c1/io.max"), "8:0 rbps=1048576");
  EXPECT_EQ(tree.Read("/c1/hugetlb.2MB.max"), "4194304");
  EXPECT_EQ(tree.Read("/c1/memory.high"), "200000000");
}

TEST(CgroupV2Test, UnlimitedValuesAndConversions) {
  EXPECT_EQ(CgroupV2Manager::SharesToWeight(2), 1u);
  EXPECT_EQ(CgroupV2Manager::SharesToWeight(262144), 10000u);
  EXPECT_EQ(CgroupV2Manager::BlkioToIoWeight(10), 1u);
  EXPECT_EQ(CgroupV2Manager::BlkioToIoWeight(1000), 10000u);
  FakeCgroup2Tree tree;
  tree.MakeCgroup("/c1", "cpu memory pids");
  CgroupV2Manager manager(tree.root(), "/c1");
  oci::Resources r;
  r.memory.limit = -1;
  r.memory.swap = -1;
  r.cpu.quota = -1;
  r.pids_limit = 0;
  ASSERT_TRUE(manager.SetResources(r).ok());
  EXPECT_EQ(tree.Read("/c1/memory.max"), "max");
  EXPECT_EQ(tree.Read("/c1/memory.swap.max"), "max");
  EXPECT_EQ(tree.Read("/c1/cpu.max"), "max 100000");
  EXPECT_EQ(tree.Read("/c1/pids.max"), "max");
}

TEST(CgroupV2Test, ControllerMissingFromTheCgroupFails) {
  FakeCgroup2Tree tree;
  tree.MakeCgroup("/c1", "pids");  // no memory controller delegated
  CgroupV2Manager manager(tree.root(), "/c1");
  oci::Resources r;
  r.memory.limit = 1 << 20;
  absl::Status status = manager.SetResources(r);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("memory.max"));
}

TEST(CgroupV2Test, DeviceRulesNeedARealCgroupAndNeverPassSilently) {
  // Device rules become an eBPF program attached to the cgroup; a directory
  // that is no cgroup cannot take it, and that must be an error.
  FakeCgroup2Tree tree;
  tree.MakeCgroup("/c1", "pids");
  CgroupV2Manager manager(tree.root(), "/c1");
  oci::Resources r;
  r.devices = {{.allow = false, .type = 'a', .access = "rwm"}};
  EXPECT_FALSE(manager.SetResources(r).ok());
}

TEST(CgroupV2Test, FreezeWaitsForTheKernelToReportIt) {
  FakeCgroup2Tree tree;
  tree.MakeCgroup("/c1", "pids");
  std::ofstream(tree.root() + "/c1/cgroup.events") << "populated 1\nfrozen 1\n";
  CgroupV2Manager manager(tree.root(), "/c1");
  ASSERT_TRUE(manager.Freeze(true).ok());
  EXPECT_EQ(tree.Read("/c1/cgroup.freeze"), "1");
  EXPECT_TRUE(*manager.IsFrozen());
}

TEST(CgroupV2Test, DestroyRemovesTheDirectory) {
  FakeCgroup2Tree tree;
  std::filesystem::create_directories(tree.root() + "/empty");
  CgroupV2Manager manager(tree.root(), "/empty");
  ASSERT_TRUE(manager.Destroy().ok());
  EXPECT_FALSE(std::filesystem::exists(tree.root() + "/empty"));
  EXPECT_TRUE(manager.Destroy().ok()) << "destroying what is gone succeeds";
}

}  // namespace
}  // namespace berth
