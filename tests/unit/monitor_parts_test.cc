#include <cstdio>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/atomic_file.h"
#include "runtime/monitor/cri_log_writer.h"
#include "runtime/monitor/exec_config.h"
#include "runtime/monitor/exit_file.h"
#include "runtime/monitor/external_runtime.h"
#include "runtime/monitor/monitor_config.h"
#include "tests/unit/temp_dir.h"

namespace berth {
namespace {

absl::Time FixedClock() { return absl::FromUnixNanos(1795000000123456789); }
constexpr char kTime[] = "2026-11-18T11:06:40.123456789Z";  // 1795000000.123456789 s

CriLogWriter Writer(const std::string& path, size_t max_entry) {
  CriLogWriter writer = *CriLogWriter::Open(path, max_entry);
  writer.set_clock(&FixedClock);
  return writer;
}

std::string Entry(const char* stream, char tag, const std::string& content) {
  return std::string(kTime) + " " + stream + " " + tag + " " + content + "\n";
}

TEST(CriLogWriterTest, OneEntryPerLineWithNanosecondTimestamps) {
  testing::TempDir dir;
  std::string path = dir.Join("c.log");
  CriLogWriter log = Writer(path, 100);
  ASSERT_TRUE(log.Write(LogStream::kStdout, "hello\nwor").ok());
  ASSERT_TRUE(log.Write(LogStream::kStderr, "oops\n").ok());
  ASSERT_TRUE(log.Write(LogStream::kStdout, "ld\n\n").ok());
  EXPECT_EQ(*ReadFileToString(path), Entry("stdout", 'F', "hello") + Entry("stderr", 'F', "oops") +
                                         Entry("stdout", 'F', "world") + Entry("stdout", 'F', ""));
}

TEST(CriLogWriterTest, LongLinesBecomePartialsEndedByAFullEntry) {
  testing::TempDir dir;
  std::string path = dir.Join("c.log");
  CriLogWriter log = Writer(path, 4);
  ASSERT_TRUE(log.Write(LogStream::kStdout, "abcdefghij\n").ok());
  ASSERT_TRUE(log.Write(LogStream::kStdout, "wxyz\n").ok());  // exactly the maximum: one F
  EXPECT_EQ(*ReadFileToString(path), Entry("stdout", 'P', "abcd") + Entry("stdout", 'P', "efgh") +
                                         Entry("stdout", 'F', "ij") + Entry("stdout", 'F', "wxyz"));
}

TEST(CriLogWriterTest, OutputWithoutNewlineIsWrittenWhenTheStreamCloses) {
  testing::TempDir dir;
  std::string path = dir.Join("c.log");
  CriLogWriter log = Writer(path, 100);
  ASSERT_TRUE(log.Write(LogStream::kStderr, "no newline").ok());
  EXPECT_EQ(*ReadFileToString(path), "");
  ASSERT_TRUE(log.Close(LogStream::kStderr).ok());
  EXPECT_EQ(*ReadFileToString(path), Entry("stderr", 'F', "no newline"));
}

TEST(CriLogWriterTest, ReopenContinuesInTheNewFileWithoutSplittingALine) {
  testing::TempDir dir;
  std::string path = dir.Join("c.log");
  CriLogWriter log = Writer(path, 100);
  ASSERT_TRUE(log.Write(LogStream::kStdout, "one\ntw").ok());
  std::filesystem::rename(path, path + ".1");  // kubelet rotates
  ASSERT_TRUE(log.Reopen().ok());
  ASSERT_TRUE(log.Write(LogStream::kStdout, "o\n").ok());
  EXPECT_EQ(*ReadFileToString(path + ".1"), Entry("stdout", 'F', "one"));
  EXPECT_EQ(*ReadFileToString(path), Entry("stdout", 'F', "two"));
}

TEST(ExitFileTest, RoundTripsAndRejectsCorruption) {
  testing::TempDir dir;
  std::string path = dir.Join("exit.json");
  EXPECT_EQ(ReadExitFile(path).status().code(), absl::StatusCode::kNotFound);
  ExitRecord record{.exit_code = 137,
                    .signal = 9,
                    .oom_killed = true,
                    .finished_at = absl::FromUnixNanos(1795000000123456789),
                    .reason = "OOMKilled"};
  ASSERT_TRUE(WriteExitFile(path, record).ok());
  EXPECT_EQ(*ReadExitFile(path), record);
  ASSERT_TRUE(WriteFileAtomically(path, "{\"exit_code\": 1}").ok());
  EXPECT_EQ(ReadExitFile(path).status().code(), absl::StatusCode::kDataLoss);
}

TEST(MonitorConfigTest, RuntimeBinaryRoundTripsAndOldConfigsMeanTheExecutor) {
  MonitorConfig config{.id = "c1",
                       .bundle = "/b",
                       .runtime_binary = "/usr/sbin/runc",
                       .runtime_root = "/run/runc",
                       .state_dir = "/s",
                       .log_path = "/l"};
  absl::StatusOr<MonitorConfig> parsed = ParseMonitorConfig(MonitorConfigToJson(config));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->runtime_binary, "/usr/sbin/runc");
  EXPECT_EQ(parsed->runtime_root, "/run/runc");
  parsed = ParseMonitorConfig(R"({"id":"c1","bundle":"/b","state_dir":"/s","log_path":"/l"})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->runtime_binary, "");
  EXPECT_EQ(parsed->runtime_root, "/run/berth-runtime");
}

TEST(ExecConfigTest, RuntimeBinaryRoundTripsAndDefaultsToEmpty) {
  ExecConfig config{.container_id = "c1", .runtime_binary = "/usr/bin/crun", .process_json = "{}"};
  absl::StatusOr<ExecConfig> parsed = ParseExecConfig(ExecConfigToJson(config));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->runtime_binary, "/usr/bin/crun");
  parsed = ParseExecConfig(R"({"container_id":"c1","process":{}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->runtime_binary, "");
}

TEST(ExternalRuntimeTest, LastRuntimeErrorPrefersTheLastLoggedError) {
  EXPECT_EQ(LastRuntimeError(""), "");
  EXPECT_EQ(LastRuntimeError(
                "{\"level\":\"error\",\"msg\":\"first\"}\n"
                "{\"level\":\"warning\",\"msg\":\"a warning\"}\n"
                "{\"msg\":\"exec: \\\"x\\\": not found\",\"level\":\"error\",\"time\":\"t\"}\n"
                "{\"level\":\"info\",\"msg\":\"later\"}\n"),
            "exec: \"x\": not found");
  // A runtime logging text: its last line.
  EXPECT_EQ(LastRuntimeError("time=\"t\" level=error msg=\"boom\"\n  \n"),
            "time=\"t\" level=error msg=\"boom\"");
}

TEST(ExternalRuntimeTest, MemoryCgroupPathFromProcPidCgroup) {
  // cgroup v1 with a v2 hierarchy beside it (hybrid): the memory controller's.
  EXPECT_EQ(*MemoryCgroupPath("9:name=systemd:/\n"
                              "4:memory:/pods/c1\n"
                              "2:cpu,cpuacct:/c1\n"
                              "0::/c1\n"),
            "/pods/c1");
  EXPECT_EQ(*MemoryCgroupPath("3:cpu,memory:/a:b\n"), "/a:b");
  EXPECT_EQ(*MemoryCgroupPath("0::/system.slice/runc-c1.scope\n"), "/system.slice/runc-c1.scope");
  EXPECT_EQ(MemoryCgroupPath("1:cpu:/c1\n").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth
