// Pure pieces of the executor: mount options, cgroup paths, signal names,
// state records.

#include <linux/mount.h>
#include <sys/mount.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/cgroups/cgroup_manager.h"
#include "runtime/container_state.h"
#include "runtime/device_rules.h"
#include "runtime/mount_options.h"
#include "tests/unit/temp_dir.h"

namespace berth {
namespace {

TEST(MountOptionsTest, SplitsFlagsPropagationRecursiveAndData) {
  absl::StatusOr<MountOptions> options =
      ParseMountOptions({"rbind", "ro", "nosuid", "rslave", "rnoexec", "mode=755", "size=64k"});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID));
  EXPECT_EQ(options->propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(options->recursive_set, static_cast<uint64_t>(MOUNT_ATTR_NOEXEC));
  EXPECT_EQ(options->data, "mode=755,size=64k");
  EXPECT_TRUE(options->is_bind());
}

TEST(MountOptionsTest, LaterOptionsWin) {
  absl::StatusOr<MountOptions> options = ParseMountOptions({"ro", "rw", "nodev", "dev"});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->flags & (MS_RDONLY | MS_NODEV), 0u);
  EXPECT_EQ(options->clear_flags, static_cast<unsigned long>(MS_RDONLY | MS_NODEV));
}

TEST(CgroupPathTest, DefaultsAbsoluteRelativeAndSystemd) {
  EXPECT_EQ(*ContainerCgroupPath("", false, "abc"), "/berth/abc");
  EXPECT_EQ(*ContainerCgroupPath("/kubepods/pod1/abc", false, "abc"), "/kubepods/pod1/abc");
  EXPECT_EQ(*ContainerCgroupPath("kubepods/abc", false, "abc"), "/kubepods/abc");
  EXPECT_EQ(*ContainerCgroupPath("kubepods-burstable-pod1.slice:cri-containerd:abc", true, "abc"),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
            "cri-containerd-abc.scope");
  EXPECT_EQ(*ContainerCgroupPath(":berth:abc", true, "abc"), "/system.slice/berth-abc.scope");
  EXPECT_EQ(*ContainerCgroupPath("", true, "abc"), "/system.slice/berth-abc.scope");
  EXPECT_FALSE(ContainerCgroupPath("/a/../../etc", false, "abc").ok());
  EXPECT_FALSE(ContainerCgroupPath("not-three-parts", true, "abc").ok());
}

TEST(ContainerIdTest, RejectsPathLikeIds) {
  EXPECT_TRUE(ValidateContainerId("abc-123_x.y+z").ok());
  EXPECT_FALSE(ValidateContainerId("").ok());
  EXPECT_FALSE(ValidateContainerId("..").ok());
  EXPECT_FALSE(ValidateContainerId("a/b").ok());
  EXPECT_FALSE(ValidateContainerId("a b").ok());
}

TEST(ContainerStateTest, SavesAndLoads) {
  testing::TempDir dir;
  StateDir state_dir(dir.path(), "c1");
  ASSERT_EQ(::mkdir(state_dir.dir().c_str(), 0700), 0);
  ContainerState state{.id = "c1",
                       .pid = 42,
                       .pid_start_time = 7,
                       .bundle = "/b",
                       .rootfs = "/b/rootfs",
                       .created = "2026-01-01T00:00:00Z",
                       .cgroup_path = "/berth/c1",
                       .annotations = {{"k", "v"}}};
  ASSERT_TRUE(SaveState(state_dir, state).ok());
  absl::StatusOr<ContainerState> loaded = LoadState(state_dir, "c1");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->pid, 42);
  EXPECT_EQ(loaded->annotations.at("k"), "v");
  EXPECT_EQ(LoadState(StateDir(dir.path(), "nope"), "nope").status().message(),
            "container nope does not exist");
  // A pid whose start time does not match is not our init any more.
  state.pid = ::getpid();
  state.pid_start_time = 1;
  EXPECT_FALSE(InitAlive(state));
  state.pid_start_time = ProcessStartTime(::getpid());
  EXPECT_TRUE(InitAlive(state));
}

TEST(DeviceRulesTest, DefaultDevicesAreAllowedAfterTheSpecRules) {
  oci::Spec spec;
  spec.linux.resources.emplace();
  spec.linux.resources->devices = {{.allow = false, .type = 'a', .access = "rwm"}};
  spec.linux.devices = {{.path = "/dev/fuse", .type = 'c', .major = 10, .minor = 229}};
  std::vector<oci::DeviceRule> rules = EffectiveDeviceRules(spec);
  ASSERT_GT(rules.size(), 2u);
  EXPECT_FALSE(rules.front().allow);
  EXPECT_EQ(*rules.back().major, 10);
  EXPECT_EQ(*rules.back().minor, 229);
  EXPECT_TRUE(rules.back().allow);
  // No rules: the device cgroup stays as the parent has it.
  EXPECT_TRUE(EffectiveDeviceRules(oci::Spec{}).empty());
}

}  // namespace
}  // namespace berth
