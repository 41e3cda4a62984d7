// CgroupV1Manager against a fake tree of v1 hierarchies: one directory per
// controller, holding only the interface files the kernel would have.

#include "runtime/cgroups/cgroup_v1.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/atomic_file.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth {
namespace {

using ::berth::testing::IsOk;

class FakeCgroup1Tree {
 public:
  // The container cgroup "/c" in a hierarchy per controller, with `files`.
  void AddHierarchy(const std::string& controller, const std::vector<std::string>& files) {
    std::string dir = root_.Join(controller) + "/c";
    std::filesystem::create_directories(dir);
    for (const std::string& file : files) std::ofstream(dir + "/" + file) << "";
    hierarchies_[controller] = root_.Join(controller);
  }
  std::string Read(const std::string& controller, const std::string& file) const {
    return ReadFileToString(root_.Join(controller) + "/c/" + file).value_or("<missing>");
  }
  CgroupV1Manager Manager() const { return CgroupV1Manager(hierarchies_, "/c"); }

 private:
  ::berth::testing::TempDir root_;
  std::map<std::string, std::string> hierarchies_;
};

TEST(CgroupV1Test, KernelTcpClassIdAndInterfacePriorities) {
  FakeCgroup1Tree tree;
  tree.AddHierarchy("memory", {"memory.kmem.tcp.limit_in_bytes"});
  tree.AddHierarchy("net_cls", {"net_cls.classid"});
  tree.AddHierarchy("net_prio", {"net_prio.ifpriomap"});
  oci::Resources resources;
  resources.memory.kernel_tcp = 1 << 20;
  resources.network.class_id = 0x100001;
  resources.network.priorities = {{"eth0", 7}};
  EXPECT_THAT(tree.Manager().SetResources(resources), IsOk());
  EXPECT_EQ(tree.Read("memory", "memory.kmem.tcp.limit_in_bytes"), "1048576");
  EXPECT_EQ(tree.Read("net_cls", "net_cls.classid"), "1048577");
  EXPECT_EQ(tree.Read("net_prio", "net_prio.ifpriomap"), "eth0 7");
}

TEST(CgroupV1Test, NetworkLimitsWithoutTheirControllersAreSkipped) {
  FakeCgroup1Tree tree;
  tree.AddHierarchy("memory", {});
  oci::Resources resources;
  resources.network.class_id = 1;
  resources.network.priorities = {{"eth0", 1}};
  EXPECT_THAT(tree.Manager().SetResources(resources), IsOk());
}

}  // namespace
}  // namespace berth
