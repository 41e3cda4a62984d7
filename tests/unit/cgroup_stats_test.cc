// The CRI stats readers against fake cgroupfs trees laid out and formatted
// like the kernel's (v1: one hierarchy per controller group, v2: the unified
// tree with interface files only for enabled controllers), and /proc/net/dev
// text as the kernel prints it.

#include "cri/container/cgroup_stats.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/atomic_file.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/temp_dir.h"

namespace berth::cri {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Renders a flat keyed file with the kernel's keys in the kernel's order:
// each key's value from `values`, 0 for those not given.
std::string Keyed(absl::string_view keys, const std::map<std::string, uint64_t>& values) {
  std::string text;
  for (absl::string_view key_view : absl::StrSplit(keys, ' ', absl::SkipEmpty())) {
    std::string key(key_view);
    auto it = values.find(key);
    absl::StrAppend(&text, key, " ", it == values.end() ? 0 : it->second, "\n");
  }
  return text;
}

// v1 memory.stat (kernel 6.x, as on the dev machine): local counters, the
// hierarchical limits, then total_* (this cgroup and its descendants).
std::string V1MemoryStat(const std::map<std::string, uint64_t>& values) {
  const std::string local =
      "cache rss rss_huge shmem mapped_file dirty writeback workingset_refault_anon "
      "workingset_refault_file swap swapcached pgpgin pgpgout pgfault pgmajfault inactive_anon "
      "active_anon inactive_file active_file unevictable";
  std::string keys = local + " hierarchical_memory_limit hierarchical_memsw_limit";
  for (absl::string_view key : absl::StrSplit(local, ' ')) absl::StrAppend(&keys, " total_", key);
  std::map<std::string, uint64_t> with_limits = values;
  with_limits.emplace("hierarchical_memory_limit", 9223372036854771712u);
  with_limits.emplace("hierarchical_memsw_limit", 9223372036854771712u);
  return Keyed(keys, with_limits);
}

// v2 memory.stat (kernel 6.x with zswap and THP).
std::string V2MemoryStat(const std::map<std::string, uint64_t>& values) {
  return Keyed(
      "anon file kernel kernel_stack pagetables sec_pagetables percpu sock vmalloc shmem zswap "
      "zswapped file_mapped file_dirty file_writeback swapcached anon_thp file_thp shmem_thp "
      "inactive_anon active_anon inactive_file active_file unevictable slab_reclaimable "
      "slab_unreclaimable slab workingset_refault_anon workingset_refault_file "
      "workingset_activate_anon workingset_activate_file workingset_restore_anon "
      "workingset_restore_file workingset_nodereclaim pgscan pgsteal pgscan_kswapd pgscan_direct "
      "pgscan_khugepaged pgsteal_kswapd pgsteal_direct pgsteal_khugepaged pgfault pgmajfault "
      "pgrefill pgactivate pgdeactivate pglazyfree pglazyfreed zswpin zswpout thp_fault_alloc "
      "thp_collapse_alloc",
      values);
}

// A v1 cgroupfs: a tmpfs root with one directory per hierarchy. systemd
// co-mounts cpu and cpuacct at "cpu,cpuacct" with "cpu" and "cpuacct"
// symlinks; some hosts (this dev machine) mount them apart.
class FakeCgroupV1Tree {
 public:
  struct Options {
    bool comount_cpu = true;
    bool pids = true;
  };
  FakeCgroupV1Tree() : FakeCgroupV1Tree(Options{}) {}
  explicit FakeCgroupV1Tree(Options options) {
    if (options.comount_cpu) {
      hierarchies_ = {"cpu,cpuacct", "memory"};
    } else {
      hierarchies_ = {"cpu", "cpuacct", "memory"};
    }
    if (options.pids) hierarchies_.push_back("pids");
    for (const std::string& hierarchy : hierarchies_) {
      std::filesystem::create_directories(root_.Join(hierarchy));
      for (const char* file : {"cgroup.procs", "tasks", "cgroup.clone_children",
                               "cgroup.sane_behavior", "notify_on_release", "release_agent"})
        WriteFile(root_.Join(hierarchy + "/" + file), "");
    }
    if (options.comount_cpu) {
      std::filesystem::create_directory_symlink("cpu,cpuacct", root_.Join("cpu"));
      std::filesystem::create_directory_symlink("cpu,cpuacct", root_.Join("cpuacct"));
    }
  }

  // `path` in every hierarchy, with the files the kernel gives a fresh cgroup.
  void MakeCgroup(const std::string& path) {
    for (const std::string& hierarchy : hierarchies_) {
      std::string dir = root_.path() + "/" + hierarchy + path;
      std::filesystem::create_directories(dir);
      for (const char* file : {"cgroup.procs", "tasks"}) WriteFile(dir + "/" + file, "");
      WriteFile(dir + "/cgroup.clone_children", "0\n");
      WriteFile(dir + "/notify_on_release", "0\n");
    }
    Write("cpu", path, "cpu.shares", "1024\n");
    Write("cpu", path, "cpu.cfs_period_us", "100000\n");
    Write("cpu", path, "cpu.cfs_quota_us", "-1\n");
    Write("cpu", path, "cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n");
    Write("cpuacct", path, "cpuacct.usage", "0\n");
    Write("cpuacct", path, "cpuacct.stat", "user 0\nsystem 0\n");
    Write("cpuacct", path, "cpuacct.usage_percpu", "0 0 \n");
    Write("memory", path, "memory.usage_in_bytes", "0\n");
    Write("memory", path, "memory.max_usage_in_bytes", "0\n");
    Write("memory", path, "memory.limit_in_bytes", "9223372036854771712\n");
    Write("memory", path, "memory.failcnt", "0\n");
    Write("memory", path, "memory.stat", V1MemoryStat({}));
    Write("memory", path, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    if (HasPids()) {
      Write("pids", path, "pids.current", "0\n");
      Write("pids", path, "pids.max", "max\n");
      Write("pids", path, "pids.events", "max 0\n");
    }
  }

  // <root>/<controller><path>/<file>, through the cpu/cpuacct symlinks.
  void Write(const std::string& controller, const std::string& path, const std::string& file,
             const std::string& text) {
    WriteFile(absl::StrCat(root_.path(), "/", controller, path, "/", file), text);
  }
  void SetProcs(const std::string& path, const std::string& procs) {
    for (const std::string& hierarchy : hierarchies_) Write(hierarchy, path, "cgroup.procs", procs);
  }
  const std::string& root() const { return root_.path(); }

 private:
  bool HasPids() const {
    return std::find(hierarchies_.begin(), hierarchies_.end(), "pids") != hierarchies_.end();
  }
  testing::TempDir root_;
  std::vector<std::string> hierarchies_;
};

// A cgroup2 tree: every cgroup has the core files (cgroup.*, cpu.stat with
// the usage_* keys), and a controller's files only where it is enabled.
class FakeCgroupV2Tree {
 public:
  FakeCgroupV2Tree() {
    WriteFile(root_.Join("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
    WriteFile(root_.Join("cgroup.subtree_control"), "cpuset cpu io memory pids\n");
    WriteFile(root_.Join("cgroup.procs"), "1\n");
    WriteFile(root_.Join("cpu.stat"),
              "usage_usec 13151469626\nuser_usec 12172295712\nsystem_usec 979173913\n"
              "nice_usec 2103851\n");
  }

  // A cgroup whose parent enabled `controllers`.
  void MakeCgroup(const std::string& path, const std::string& controllers = "cpu io memory pids") {
    std::string dir = root_.path() + path;
    std::filesystem::create_directories(dir);
    auto has = [&controllers](absl::string_view name) {
      for (absl::string_view c : absl::StrSplit(controllers, ' '))
        if (c == name) return true;
      return false;
    };
    Write(path, "cgroup.controllers", controllers + "\n");
    Write(path, "cgroup.subtree_control", "");
    Write(path, "cgroup.procs", "");
    Write(path, "cgroup.threads", "");
    Write(path, "cgroup.type", "domain\n");
    Write(path, "cgroup.events", "populated 0\nfrozen 0\n");
    Write(path, "cgroup.freeze", "0\n");
    std::string cpu_stat = "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnice_usec 0\n";
    if (has("cpu")) {
      absl::StrAppend(&cpu_stat,
                      "core_sched.force_idle_usec 0\nnr_periods 0\nnr_throttled 0\n"
                      "throttled_usec 0\nnr_bursts 0\nburst_usec 0\n");
      Write(path, "cpu.weight", "100\n");
      Write(path, "cpu.max", "max 100000\n");
    }
    Write(path, "cpu.stat", cpu_stat);
    if (has("memory")) {
      Write(path, "memory.current", "0\n");
      Write(path, "memory.peak", "0\n");
      Write(path, "memory.min", "0\n");
      Write(path, "memory.low", "0\n");
      Write(path, "memory.high", "max\n");
      Write(path, "memory.max", "max\n");
      Write(path, "memory.swap.current", "0\n");
      Write(path, "memory.swap.max", "max\n");
      Write(path, "memory.stat", V2MemoryStat({}));
      Write(path, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
      Write(path, "memory.events.local",
            "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
    }
    if (has("pids")) {
      Write(path, "pids.current", "0\n");
      Write(path, "pids.max", "max\n");
      Write(path, "pids.events", "max 0\n");
    }
    if (has("io")) {
      Write(path, "io.stat", "");
      Write(path, "io.max", "");
    }
  }

  void Write(const std::string& path, const std::string& file, const std::string& text) {
    WriteFile(absl::StrCat(root_.path(), path, "/", file), text);
  }
  const std::string& root() const { return root_.path(); }

 private:
  testing::TempDir root_;
};

// --- cgroup v1 ---

TEST(CgroupStatsV1Test, ReadsEveryFieldFromTheKernelFiles) {
  FakeCgroupV1Tree tree;
  const std::string path = "/kubepods/burstable/pod1/c1";
  tree.MakeCgroup(path);
  tree.Write("cpuacct", path, "cpuacct.usage", "123456789012\n");
  tree.Write("memory", path, "memory.usage_in_bytes", "104857600\n");
  tree.Write("memory", path, "memory.limit_in_bytes", "268435456\n");
  // Local counters differ from total_*, which are the ones to report.
  tree.Write("memory", path, "memory.stat",
             V1MemoryStat({{"rss", 7},
                           {"inactive_file", 1},
                           {"pgfault", 9},
                           {"pgmajfault", 1},
                           {"total_rss", 52428800},
                           {"total_inactive_file", 20971520},
                           {"total_active_file", 4096},
                           {"total_pgfault", 123456},
                           {"total_pgmajfault", 78}}));
  tree.Write("memory", path, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  tree.Write("pids", path, "pids.current", "7\n");
  tree.SetProcs(path, "100\n101\n102\n");

  absl::Time before = absl::Now();
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(path, false, "c1", tree.root());
  absl::Time after = absl::Now();
  ASSERT_THAT(usage, IsOk());
  EXPECT_GE(usage->timestamp, before);
  EXPECT_LE(usage->timestamp, after);
  EXPECT_EQ(usage->cpu_usage_ns, 123456789012u);
  EXPECT_EQ(usage->memory_usage_bytes, 104857600u);
  EXPECT_EQ(usage->memory_working_set_bytes, 104857600u - 20971520u);
  EXPECT_EQ(usage->memory_rss_bytes, 52428800u);
  EXPECT_EQ(usage->page_faults, 123456u);
  EXPECT_EQ(usage->major_page_faults, 78u);
  EXPECT_EQ(usage->memory_available_bytes, 268435456u - (104857600u - 20971520u));
  EXPECT_EQ(usage->process_count, 7u);  // pids.current (tasks), not cgroup.procs
  EXPECT_EQ(usage->oom_kill_count, 2u);
}

TEST(CgroupStatsV1Test, SeparateCpuAndCpuacctHierarchies) {
  FakeCgroupV1Tree tree({.comount_cpu = false});
  tree.MakeCgroup("/berth/abc");
  tree.Write("cpuacct", "/berth/abc", "cpuacct.usage", "5000\n");
  // An empty cgroupsPath is /berth/<id>, as the executor places it.
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("", false, "abc", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->cpu_usage_ns, 5000u);
}

TEST(CgroupStatsV1Test, SystemdCgroupsPathResolvesLikeTheExecutor) {
  FakeCgroupV1Tree tree;
  const std::string path =
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/"
      "cri-berth-abc.scope";
  tree.MakeCgroup(path);
  tree.Write("memory", path, "memory.usage_in_bytes", "4096\n");
  absl::StatusOr<CgroupUsage> usage =
      ReadCgroupUsage("kubepods-besteffort-pod12.slice:cri-berth:abc", true, "abc", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->memory_usage_bytes, 4096u);
}

TEST(CgroupStatsV1Test, UnlimitedMemoryHasNoAvailableBytes) {
  FakeCgroupV1Tree tree;
  tree.MakeCgroup("/c1");  // memory.limit_in_bytes 9223372036854771712: the kernel's "no limit"
  tree.Write("memory", "/c1", "memory.usage_in_bytes", "1048576\n");
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/c1", false, "c1", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->memory_working_set_bytes, 1048576u);
  EXPECT_EQ(usage->memory_available_bytes, 0u);
}

TEST(CgroupStatsV1Test, WorkingSetFlooredAtZero) {
  FakeCgroupV1Tree tree;
  tree.MakeCgroup("/c1");
  tree.Write("memory", "/c1", "memory.usage_in_bytes", "4096\n");
  tree.Write("memory", "/c1", "memory.limit_in_bytes", "1048576\n");
  tree.Write("memory", "/c1", "memory.stat", V1MemoryStat({{"total_inactive_file", 8192}}));
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/c1", false, "c1", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->memory_usage_bytes, 4096u);
  EXPECT_EQ(usage->memory_working_set_bytes, 0u);
  EXPECT_EQ(usage->memory_available_bytes, 1048576u);
}

TEST(CgroupStatsV1Test, WithoutPidsControllerCountsCgroupProcs) {
  FakeCgroupV1Tree tree({.pids = false});
  tree.MakeCgroup("/c1");
  tree.SetProcs("/c1", "10\n11\n12\n");
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/c1", false, "c1", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->process_count, 3u);
}

TEST(CgroupStatsV1Test, KernelWithoutOomKillCountReadsZero) {
  FakeCgroupV1Tree tree;
  tree.MakeCgroup("/c1");
  tree.Write("memory", "/c1", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/c1", false, "c1", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->oom_kill_count, 0u);
}

TEST(CgroupStatsV1Test, MissingCgroupIsNotFound) {
  FakeCgroupV1Tree tree;
  tree.MakeCgroup("/other");
  EXPECT_THAT(ReadCgroupUsage("/gone", false, "gone", tree.root()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/gone")));
}

TEST(CgroupStatsV1Test, MalformedFileIsAnErrorNamingIt) {
  FakeCgroupV1Tree tree;
  tree.MakeCgroup("/c1");
  tree.Write("cpuacct", "/c1", "cpuacct.usage", "lots\n");
  EXPECT_THAT(ReadCgroupUsage("/c1", false, "c1", tree.root()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("/c1/cpuacct.usage")));

  tree.Write("cpuacct", "/c1", "cpuacct.usage", "1\n");
  tree.Write("memory", "/c1", "memory.stat", V1MemoryStat({}) + "total_rss\n");
  EXPECT_THAT(
      ReadCgroupUsage("/c1", false, "c1", tree.root()),
      StatusIs(absl::StatusCode::kInternal, HasSubstr(tree.root() + "/memory/c1/memory.stat")));

  tree.Write("memory", "/c1", "memory.stat", "total_rss 12\n");
  EXPECT_THAT(
      ReadCgroupUsage("/c1", false, "c1", tree.root()),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("memory.stat: no total_inactive_file")));
}

// --- cgroup v2 ---

TEST(CgroupStatsV2Test, ReadsEveryFieldFromTheKernelFiles) {
  FakeCgroupV2Tree tree;
  tree.MakeCgroup("/kubepods");
  const std::string path = "/kubepods/pod1/c1";
  tree.MakeCgroup("/kubepods/pod1");
  tree.MakeCgroup(path);
  tree.Write(path, "cpu.stat",
             "usage_usec 98765432\nuser_usec 90000000\nsystem_usec 8765432\nnice_usec 0\n"
             "core_sched.force_idle_usec 0\nnr_periods 10\nnr_throttled 2\n"
             "throttled_usec 3000\nnr_bursts 0\nburst_usec 0\n");
  tree.Write(path, "memory.current", "73400320\n");
  tree.Write(path, "memory.max", "134217728\n");
  tree.Write(path, "memory.stat",
             V2MemoryStat({{"anon", 41943040},
                           {"file", 31457280},
                           {"inactive_file", 10485760},
                           {"active_file", 20971520},
                           {"pgfault", 5555},
                           {"pgmajfault", 44}}));
  tree.Write(path, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
  tree.Write(path, "pids.current", "4\n");
  tree.Write(path, "cgroup.procs", "200\n201\n");
  tree.Write(path, "io.stat",
             "8:0 rbytes=7184384 wbytes=4132864 rios=56 wios=715 dbytes=0 dios=0\n");

  absl::Time before = absl::Now();
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage(path, false, "c1", tree.root());
  absl::Time after = absl::Now();
  ASSERT_THAT(usage, IsOk());
  EXPECT_GE(usage->timestamp, before);
  EXPECT_LE(usage->timestamp, after);
  EXPECT_EQ(usage->cpu_usage_ns, 98765432000u);
  EXPECT_EQ(usage->memory_usage_bytes, 73400320u);
  EXPECT_EQ(usage->memory_working_set_bytes, 73400320u - 10485760u);
  EXPECT_EQ(usage->memory_rss_bytes, 41943040u);
  EXPECT_EQ(usage->page_faults, 5555u);
  EXPECT_EQ(usage->major_page_faults, 44u);
  EXPECT_EQ(usage->memory_available_bytes, 134217728u - (73400320u - 10485760u));
  EXPECT_EQ(usage->process_count, 4u);
  EXPECT_EQ(usage->oom_kill_count, 1u);
}

TEST(CgroupStatsV2Test, SystemdCgroupsPathResolvesLikeTheExecutor) {
  FakeCgroupV2Tree tree;
  tree.MakeCgroup("/kubepods.slice");
  tree.MakeCgroup("/kubepods.slice/kubepods-pod9.slice");
  const std::string path = "/kubepods.slice/kubepods-pod9.slice/cri-berth-abc.scope";
  tree.MakeCgroup(path);
  tree.Write(path, "cpu.stat", "usage_usec 3\nuser_usec 2\nsystem_usec 1\nnice_usec 0\n");
  absl::StatusOr<CgroupUsage> usage =
      ReadCgroupUsage("kubepods-pod9.slice:cri-berth:abc", true, "abc", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->cpu_usage_ns, 3000u);
}

TEST(CgroupStatsV2Test, MaxMemoryHasNoAvailableBytes) {
  FakeCgroupV2Tree tree;
  tree.MakeCgroup("/c1");  // memory.max "max"
  tree.Write("/c1", "memory.current", "1048576\n");
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/c1", false, "c1", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->memory_working_set_bytes, 1048576u);
  EXPECT_EQ(usage->memory_available_bytes, 0u);
}

TEST(CgroupStatsV2Test, WorkingSetFlooredAtZero) {
  FakeCgroupV2Tree tree;
  tree.MakeCgroup("/c1");
  tree.Write("/c1", "memory.current", "4096\n");
  tree.Write("/c1", "memory.max", "65536\n");
  tree.Write("/c1", "memory.stat", V2MemoryStat({{"inactive_file", 12288}}));
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/c1", false, "c1", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->memory_usage_bytes, 4096u);
  EXPECT_EQ(usage->memory_working_set_bytes, 0u);
  EXPECT_EQ(usage->memory_available_bytes, 65536u);
}

TEST(CgroupStatsV2Test, WithoutPidsControllerCountsCgroupProcs) {
  FakeCgroupV2Tree tree;
  tree.MakeCgroup("/c1", "cpu memory");
  tree.Write("/c1", "cgroup.procs", "300\n301\n302\n");
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/c1", false, "c1", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->process_count, 3u);
}

TEST(CgroupStatsV2Test, WithoutMemoryControllerMemoryFieldsAreZero) {
  FakeCgroupV2Tree tree;
  tree.MakeCgroup("/c1", "pids");
  tree.Write("/c1", "cpu.stat", "usage_usec 42\nuser_usec 40\nsystem_usec 2\nnice_usec 0\n");
  tree.Write("/c1", "pids.current", "2\n");
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/c1", false, "c1", tree.root());
  ASSERT_THAT(usage, IsOk());
  EXPECT_EQ(usage->cpu_usage_ns, 42000u);
  EXPECT_EQ(usage->memory_usage_bytes, 0u);
  EXPECT_EQ(usage->memory_working_set_bytes, 0u);
  EXPECT_EQ(usage->process_count, 2u);
}

TEST(CgroupStatsV2Test, MissingCgroupIsNotFound) {
  FakeCgroupV2Tree tree;
  tree.MakeCgroup("/kubepods");
  EXPECT_THAT(ReadCgroupUsage("/kubepods/gone", false, "gone", tree.root()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/kubepods/gone")));
}

TEST(CgroupStatsV2Test, MalformedFileIsAnErrorNamingIt) {
  FakeCgroupV2Tree tree;
  tree.MakeCgroup("/c1");
  tree.Write("/c1", "memory.stat", "anon twelve\ninactive_file 0\npgfault 0\npgmajfault 0\n");
  EXPECT_THAT(ReadCgroupUsage("/c1", false, "c1", tree.root()),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr(tree.root() + "/c1/memory.stat: anon \"twelve\"")));

  tree.MakeCgroup("/c2");
  tree.Write("/c2", "memory.max", "unlimited\n");
  EXPECT_THAT(ReadCgroupUsage("/c2", false, "c2", tree.root()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("/c2/memory.max")));

  tree.MakeCgroup("/c3");
  tree.Write("/c3", "cpu.stat", "usage_usec\n");
  EXPECT_THAT(ReadCgroupUsage("/c3", false, "c3", tree.root()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("/c3/cpu.stat")));
}

TEST(CgroupStatsTest, MountRootWithoutCgroupsIsNotNotFound) {
  testing::TempDir empty;
  EXPECT_THAT(ReadCgroupUsage("/c1", false, "c1", empty.path()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ReadCgroupUsage("/c1", false, "c1", empty.Join("absent")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// The production path: this host's real cgroup root, whichever version, as
// mountinfo shows it. The root cgroup always exists and has used CPU.
TEST(CgroupStatsTest, ReadsThisMachinesRootCgroup) {
  if (!std::filesystem::is_directory("/sys/fs/cgroup")) GTEST_SKIP() << "no /sys/fs/cgroup";
  absl::StatusOr<CgroupUsage> usage = ReadCgroupUsage("/", false, "root");
  if (absl::IsFailedPrecondition(usage.status())) GTEST_SKIP() << usage.status();
  ASSERT_THAT(usage, IsOk());
  EXPECT_GT(usage->cpu_usage_ns, 0u);
}

// --- NanoCores and CpuSampler ---

CgroupUsage Sample(absl::Time at, uint64_t cpu_ns) {
  CgroupUsage usage;
  usage.timestamp = at;
  usage.cpu_usage_ns = cpu_ns;
  return usage;
}

TEST(NanoCoresTest, CpuDeltaOverWallDelta) {
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  // Half a core: 0.5 s of CPU in 1 s.
  EXPECT_EQ(NanoCores(Sample(t0, 1000), Sample(t0 + absl::Seconds(1), 1000 + 500'000'000)),
            500'000'000u);
  // Two cores over 10 s.
  EXPECT_EQ(NanoCores(Sample(t0, 0), Sample(t0 + absl::Seconds(10), 20'000'000'000)),
            2'000'000'000u);
  // 100 s of CPU over 50 s: the product (1e20) overflows 64 bits.
  EXPECT_EQ(NanoCores(Sample(t0, 5), Sample(t0 + absl::Seconds(50), 5 + 100'000'000'000)),
            2'000'000'000u);
  // A third of a core truncates.
  EXPECT_EQ(NanoCores(Sample(t0, 0), Sample(t0 + absl::Seconds(3), 1'000'000'000)), 333'333'333u);
}

TEST(NanoCoresTest, ZeroWhenTimeOrCounterDoesNotAdvance) {
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(NanoCores(Sample(t0, 0), Sample(t0, 1'000'000)), 0u);
  EXPECT_EQ(NanoCores(Sample(t0 + absl::Seconds(1), 0), Sample(t0, 1'000'000)), 0u);
  EXPECT_EQ(NanoCores(Sample(t0, 5'000'000), Sample(t0 + absl::Seconds(1), 1'000'000)), 0u);
  EXPECT_EQ(NanoCores(Sample(t0, 7), Sample(t0 + absl::Seconds(1), 7)), 0u);
}

TEST(CpuSamplerTest, FirstSampleIsZeroThenDeltaSinceThePrevious) {
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  CpuSampler sampler;
  EXPECT_EQ(sampler.Observe("c1", Sample(t0, 1'000'000'000)), 0u);
  EXPECT_EQ(sampler.Observe("c1", Sample(t0 + absl::Seconds(2), 2'000'000'000)), 500'000'000u);
  // Measured from the second sample, not the first.
  EXPECT_EQ(sampler.Observe("c1", Sample(t0 + absl::Seconds(3), 4'000'000'000)), 2'000'000'000u);
}

TEST(CpuSamplerTest, IdsAreIndependentAndForgettable) {
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  CpuSampler sampler;
  EXPECT_EQ(sampler.Observe("a", Sample(t0, 0)), 0u);
  EXPECT_EQ(sampler.Observe("b", Sample(t0, 0)), 0u);
  EXPECT_EQ(sampler.Observe("a", Sample(t0 + absl::Seconds(1), 250'000'000)), 250'000'000u);
  EXPECT_EQ(sampler.Observe("b", Sample(t0 + absl::Seconds(1), 750'000'000)), 750'000'000u);
  sampler.Forget("a");
  EXPECT_EQ(sampler.Observe("a", Sample(t0 + absl::Seconds(2), 500'000'000)), 0u);
  EXPECT_EQ(sampler.Observe("b", Sample(t0 + absl::Seconds(2), 1'000'000'000)), 250'000'000u);
}

TEST(CpuSamplerTest, StaleSampleKeepsTheNewerOneAndLastValue) {
  absl::Time t0 = absl::FromUnixSeconds(1700000000);
  CpuSampler sampler;
  sampler.Observe("c1", Sample(t0, 0));
  EXPECT_EQ(sampler.Observe("c1", Sample(t0 + absl::Seconds(2), 1'000'000'000)), 500'000'000u);
  // A racing RPC that read earlier but observes later.
  EXPECT_EQ(sampler.Observe("c1", Sample(t0 + absl::Seconds(1), 100)), 500'000'000u);
  EXPECT_EQ(sampler.Observe("c1", Sample(t0 + absl::Seconds(3), 2'000'000'000)), 1'000'000'000u);
}

// --- /proc/net/dev ---

// As kernel 6.x prints it (the header from /proc/self/net/dev on the dev machine).
constexpr char kNetDev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo: 1721386707  288737    0    0    0     0          0         0 1721386707  288737    "
    "0    0    0     0       0          0\n"
    "  eth0: 58779704    2154    3    0    0     0          0         0   128148    1731    5    "
    "0    0     0       0          0\n"
    "  ifb0:       0       0    0    0    0     0          0         0        0       0    0    "
    "0    0     0       0          0\n"
    "vethabcdef12: 18446744073709551615 9 1 0 0 0 0 0 77 6 2 0 0 0 0 0\n";

TEST(NetDevTest, ParsesKernelTextSkippingLoopback) {
  absl::StatusOr<std::vector<InterfaceUsage>> interfaces = ParseNetDev(kNetDev);
  ASSERT_THAT(interfaces, IsOk());
  ASSERT_EQ(interfaces->size(), 3u);
  const InterfaceUsage& eth0 = (*interfaces)[0];
  EXPECT_EQ(eth0.name, "eth0");
  EXPECT_EQ(eth0.rx_bytes, 58779704u);
  EXPECT_EQ(eth0.rx_errors, 3u);
  EXPECT_EQ(eth0.tx_bytes, 128148u);
  EXPECT_EQ(eth0.tx_errors, 5u);
  EXPECT_EQ((*interfaces)[1].name, "ifb0");
  EXPECT_EQ((*interfaces)[1].rx_bytes, 0u);
  const InterfaceUsage& veth = (*interfaces)[2];
  EXPECT_EQ(veth.name, "vethabcdef12");
  EXPECT_EQ(veth.rx_bytes, 18446744073709551615u);
  EXPECT_EQ(veth.rx_errors, 1u);
  EXPECT_EQ(veth.tx_bytes, 77u);
  EXPECT_EQ(veth.tx_errors, 2u);
}

TEST(NetDevTest, OlderKernelsPrintNoSpaceAfterTheColon) {
  absl::StatusOr<std::vector<InterfaceUsage>> interfaces = ParseNetDev(
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "  eth0:123456789012  100    0    0    0     0          0         0 98765    90    0    0 "
      "   0     0       0          0\n");
  ASSERT_THAT(interfaces, IsOk());
  EXPECT_THAT(*interfaces, ElementsAre(Field(&InterfaceUsage::rx_bytes, 123456789012u)));
}

TEST(NetDevTest, MalformedLinesAreErrorsNamingTheLine) {
  EXPECT_THAT(ParseNetDev("  eth0: 1 2 3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
  EXPECT_THAT(ParseNetDev("  eth0: 1 2 x 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"x\" is not a number")));
  EXPECT_THAT(ParseNetDev("header\n  eth0 1 2 3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
  EXPECT_THAT(ParseNetDev(": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no interface name")));
}

TEST(NetDevTest, ParsesThisMachinesProcSelfNetDev) {
  absl::StatusOr<std::string> text = ReadFileToString("/proc/self/net/dev");
  if (!text.ok()) GTEST_SKIP() << text.status();
  int interface_lines = 0;
  bool has_lo = false;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    if (line.find(':') == absl::string_view::npos) continue;
    ++interface_lines;
    if (absl::StripAsciiWhitespace(line.substr(0, line.find(':'))) == "lo") has_lo = true;
  }
  absl::StatusOr<std::vector<InterfaceUsage>> interfaces = ParseNetDev(*text);
  ASSERT_THAT(interfaces, IsOk());
  EXPECT_EQ(static_cast<int>(interfaces->size()), interface_lines - (has_lo ? 1 : 0));
  EXPECT_THAT(*interfaces, Not(::testing::Contains(Field(&InterfaceUsage::name, "lo"))));
  for (const InterfaceUsage& interface : *interfaces) EXPECT_THAT(interface.name, Not(IsEmpty()));

  // The same namespace through ReadNetDev (counters may move; names do not).
  absl::StatusOr<std::vector<InterfaceUsage>> by_pid = ReadNetDev(::getpid());
  ASSERT_THAT(by_pid, IsOk());
  ASSERT_EQ(by_pid->size(), interfaces->size());
  for (size_t i = 0; i < by_pid->size(); ++i) EXPECT_EQ((*by_pid)[i].name, (*interfaces)[i].name);
}

TEST(NetDevTest, GoneProcessIsNotFound) {
  // Above the largest pid_max the kernel allows (2^22).
  EXPECT_THAT(ReadNetDev(1 << 30), StatusIs(absl::StatusCode::kNotFound, HasSubstr("/net/dev")));
}

}  // namespace
}  // namespace berth::cri
