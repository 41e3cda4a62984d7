#include "runtime/cgroups/systemd_cgroup.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

using systemd::UnitProperty;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();

TEST(SystemdUnitTest, NameAndSliceComeFromTheScopesPath) {
  SystemdUnit nested = SystemdUnitOfPath(
      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/berth-abc.scope");
  EXPECT_EQ(nested.name, "berth-abc.scope");
  EXPECT_EQ(nested.slice, "kubepods-burstable-pod1.slice");
  SystemdUnit system = SystemdUnitOfPath("/system.slice/berth-abc.scope");
  EXPECT_EQ(system.slice, "system.slice");
  SystemdUnit root = SystemdUnitOfPath("/berth-abc.scope");
  EXPECT_EQ(root.name, "berth-abc.scope");
  EXPECT_EQ(root.slice, "-.slice");
}

TEST(SystemdUnitTest, ScopesAreDelegatedWithTheInitAndAccounting) {
  SystemdUnit unit{.name = "berth-abc.scope", .slice = "pod1.slice"};
  std::vector<UnitProperty> v1 = ScopeProperties(unit, 4242, 1);
  EXPECT_THAT(v1, ::testing::IsSupersetOf<UnitProperty>({
                      {"Slice", std::string("pod1.slice")},
                      {"PIDs", std::vector<uint32_t>{4242}},
                      {"Delegate", true},
                      {"DefaultDependencies", false},
                      {"MemoryAccounting", true},
                      {"CPUAccounting", true},
                      {"TasksAccounting", true},
                      {"BlockIOAccounting", true},
                  }));
  std::vector<UnitProperty> v2 = ScopeProperties(unit, 4242, 2);
  EXPECT_THAT(v2, ::testing::Contains(UnitProperty{"IOAccounting", true}));
  EXPECT_THAT(v2, ::testing::Not(::testing::Contains(UnitProperty{"BlockIOAccounting", true})));
}

TEST(SystemdUnitTest, LimitsAreMirroredUnderEachVersionsNames) {
  oci::Resources resources;
  resources.memory.limit = 64 << 20;
  resources.cpu.shares = 1024;
  resources.cpu.quota = 25000;
  resources.cpu.period = 100000;
  resources.pids_limit = 42;
  resources.block_io.weight = 500;
  EXPECT_THAT(ResourceProperties(resources, 1),
              ElementsAre(UnitProperty{"MemoryLimit", uint64_t{64 << 20}},
                          UnitProperty{"CPUShares", uint64_t{1024}},
                          UnitProperty{"CPUQuotaPeriodUSec", uint64_t{100000}},
                          UnitProperty{"CPUQuotaPerSecUSec", uint64_t{250000}},
                          UnitProperty{"TasksMax", uint64_t{42}},
                          UnitProperty{"BlockIOWeight", uint64_t{500}}));
  EXPECT_THAT(ResourceProperties(resources, 2),
              ElementsAre(UnitProperty{"MemoryMax", uint64_t{64 << 20}},
                          UnitProperty{"CPUWeight", uint64_t{39}},
                          UnitProperty{"CPUQuotaPeriodUSec", uint64_t{100000}},
                          UnitProperty{"CPUQuotaPerSecUSec", uint64_t{250000}},
                          UnitProperty{"TasksMax", uint64_t{42}},
                          UnitProperty{"IOWeight", uint64_t{4950}}));
}

TEST(SystemdUnitTest, QuotasRoundUpToSystemdsTenMilliseconds) {
  oci::Resources resources;
  resources.cpu.quota = 12345;  // 123450us per second
  resources.cpu.period = 100000;
  std::vector<UnitProperty> properties = ResourceProperties(resources, 1);
  EXPECT_THAT(properties,
              ::testing::Contains(UnitProperty{"CPUQuotaPerSecUSec", uint64_t{130000}}));
}

TEST(SystemdUnitTest, UnlimitedIsInfinityAndNothingSetIsNothingSent) {
  oci::Resources unlimited;
  unlimited.memory.limit = -1;
  unlimited.pids_limit = -1;
  unlimited.cpu.quota = -1;
  EXPECT_THAT(ResourceProperties(unlimited, 2),
              ElementsAre(UnitProperty{"MemoryMax", kInfinity},
                          UnitProperty{"CPUQuotaPerSecUSec", kInfinity},
                          UnitProperty{"TasksMax", kInfinity}));
  EXPECT_THAT(ResourceProperties(oci::Resources{}, 1), IsEmpty());
}

}  // namespace
}  // namespace berth
