// The pure parts of berthd's metrics: /proc/self/stat and /proc/stat
// parsing for the process_* figures, and telling monitors from /proc's
// command lines.

#include "cri/metrics/monitor_processes.h"
#include "cri/metrics/process_stats.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace berth::cri {
namespace {

using ::berth::testing::IsOk;

// A real line's shape: a command with a space and a parenthesis in it.
constexpr char kStat[] =
    "4242 (berth d) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 250 150 0 0 20 0 17 0 "
    "100000 536870912 3000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessStatsTest, ParsesTheFieldsProcFiveNames) {
  absl::StatusOr<ProcessStats> stats = ParseProcStat(kStat, 100, 4096, 1'700'000'000);
  ASSERT_THAT(stats.status(), IsOk());
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 4.0);  // (250 + 150) ticks at 100 Hz
  EXPECT_EQ(stats->threads, 17);
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1'700'000'000 + 1000.0);
  EXPECT_EQ(stats->virtual_bytes, 536870912u);
  EXPECT_EQ(stats->resident_bytes, 3000u * 4096);
}

TEST(ProcessStatsTest, MalformedTextIsAnError) {
  EXPECT_FALSE(ParseProcStat("4242 berthd S 1", 100, 4096, 0).ok());
  EXPECT_FALSE(ParseProcStat("4242 (berthd) S 1 2 3", 100, 4096, 0).ok());
  EXPECT_FALSE(ParseBootTime("cpu 1 2 3\n").ok());
  absl::StatusOr<double> boot = ParseBootTime("cpu 1 2 3\nbtime 1764400000\nprocesses 9\n");
  ASSERT_THAT(boot.status(), IsOk());
  EXPECT_DOUBLE_EQ(*boot, 1764400000);
}

TEST(ProcessStatsTest, ReadsThisProcess) {
  absl::StatusOr<ProcessStats> stats = ReadProcessStats();
  ASSERT_THAT(stats.status(), IsOk());
  EXPECT_GT(stats->resident_bytes, 0u);
  EXPECT_GE(stats->threads, 1);
  EXPECT_GE(stats->open_fds, 3);
  EXPECT_GT(stats->max_fds, 0);
}

TEST(MonitorProcessesTest, AMonitorOfThisStateDirByItsConfigPath) {
  using namespace std::string_literals;
  EXPECT_TRUE(IsMonitorOf(
      "/usr/libexec/berth/berth-monitor\0--config\0/run/berth/containers/a/monitor/config.json\0"
      "--sync-fd\0003\0"s,
      "/run/berth"));
  EXPECT_TRUE(IsMonitorOf("berth-monitor\0--config\0/run/berth/sandboxes/p/monitor/config.json\0"s,
                          "/run/berth"));
  // Another berthd's, an exec helper, another program, a look-alike prefix.
  EXPECT_FALSE(IsMonitorOf(
      "berth-monitor\0--config\0/run/other/containers/a/monitor/config.json\0"s, "/run/berth"));
  EXPECT_FALSE(IsMonitorOf("berth-monitor\0--exec\0--channel-fd\0003\0"s, "/run/berth"));
  EXPECT_FALSE(IsMonitorOf("/bin/sh\0--config\0/run/berth/x\0"s, "/run/berth"));
  EXPECT_FALSE(IsMonitorOf("berth-monitor\0--config\0/run/berth-2/c/config.json\0"s, "/run/berth"));
  EXPECT_FALSE(IsMonitorOf(""s, "/run/berth"));
}

}  // namespace
}  // namespace berth::cri
